import Foundation
import PierCluster

/// What the mesh interface carries besides its address: routes to the peers' subnets and, for
/// VXLAN, the static neighbour and forwarding entries flannel's backend uses. The agent reads
/// what the interface has (`observe`), and `commands` turns the difference into `ip` and
/// `bridge` calls: entries of peers gone are removed, missing ones added, the rest untouched.
struct MeshLayout: Equatable, Sendable {
    struct Route: Hashable, Sendable {
        var destination: IPv4Network
        /// The next hop (a VXLAN peer's VTEP, `onlink`); nil: straight into the interface (WireGuard).
        var gateway: String?
    }
    struct Neighbour: Hashable, Sendable {
        var address: String
        var mac: String
    }
    struct Forwarding: Hashable, Sendable {
        var mac: String
        var destination: String
    }

    var routes: Set<Route> = []
    var neighbours: Set<Neighbour> = []
    var forwarding: Set<Forwarding> = []

    /// WireGuard: each peer's allowed addresses routed into the interface.
    static func wireguard(_ peers: [MeshPeer]) -> MeshLayout {
        MeshLayout(routes: Set(peers.flatMap { $0.allowedIPs.map { Route(destination: $0.network, gateway: nil) } }))
    }

    /// VXLAN, as flannel: the peer's VTEP address resolves to its VTEP MAC (permanent), frames to
    /// that MAC go to the peer's underlay address, and its subnet is routed via its VTEP.
    static func vxlan(_ peers: [MeshPeer]) -> MeshLayout {
        var layout = MeshLayout()
        for peer in peers {
            guard let subnet = peer.allowedIPs.first, let mac = peer.vtepMAC?.lowercased(), let underlay = peer.underlayAddress else { continue }
            let vtep = VXLANAddressing.vtepAddress(for: subnet)
            layout.routes.insert(Route(destination: subnet.network, gateway: vtep))
            layout.neighbours.insert(Neighbour(address: vtep, mac: mac))
            layout.forwarding.insert(Forwarding(mac: mac, destination: underlay))
        }
        return layout
    }

    /// The calls that take `interface` from `observed` to `self`: removals first (routes, then
    /// neighbours and forwarding entries), then additions (neighbours and forwarding entries
    /// before the routes that use them). Each argv starts with the tool.
    func commands(interface: String, from observed: MeshLayout) -> [[String]] {
        var out: [[String]] = []
        for r in observed.routes.subtracting(routes).sorted(by: Self.order) {
            out.append(["ip", "route", "del", r.destination.description] + (r.gateway.map { ["via", $0] } ?? []) + ["dev", interface])
        }
        for n in observed.neighbours.subtracting(neighbours).sorted(by: { $0.address < $1.address }) {
            out.append(["ip", "neigh", "del", n.address, "dev", interface])
        }
        for f in observed.forwarding.subtracting(forwarding).sorted(by: { ($0.mac, $0.destination) < ($1.mac, $1.destination) }) {
            out.append(["bridge", "fdb", "del", f.mac, "dev", interface, "dst", f.destination])
        }
        for n in neighbours.subtracting(observed.neighbours).sorted(by: { $0.address < $1.address }) {
            out.append(["ip", "neigh", "replace", n.address, "lladdr", n.mac, "dev", interface, "nud", "permanent"])
        }
        for f in forwarding.subtracting(observed.forwarding).sorted(by: { ($0.mac, $0.destination) < ($1.mac, $1.destination) }) {
            out.append(["bridge", "fdb", "replace", f.mac, "dev", interface, "dst", f.destination])
        }
        for r in routes.subtracting(observed.routes).sorted(by: Self.order) {
            if let gateway = r.gateway {
                out.append(["ip", "route", "replace", r.destination.description, "via", gateway, "dev", interface, "onlink"])
            } else {
                out.append(["ip", "route", "replace", r.destination.description, "dev", interface])
            }
        }
        return out
    }

    private static func order(_ a: Route, _ b: Route) -> Bool {
        a.destination == b.destination ? (a.gateway ?? "") < (b.gateway ?? "") : a.destination < b.destination
    }

    /// Parses `ip -j route show dev X`, `ip -j neigh show dev X` and `bridge -j fdb show dev X`:
    /// the routes the agent could have added (not the kernel's own), permanent neighbours, and
    /// forwarding entries with a destination.
    static func observed(routes: String, neighbours: String, forwarding: String) -> MeshLayout {
        func entries(_ text: String) -> [[String: Any]] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
        }
        var layout = MeshLayout()
        for entry in entries(routes) {
            guard entry["protocol"] as? String != "kernel", let dst = entry["dst"] as? String else { continue }
            let cidr = dst.contains("/") ? dst : dst + "/32"
            guard let destination = try? IPv4Network(parsing: cidr) else { continue }
            layout.routes.insert(Route(destination: destination, gateway: entry["gateway"] as? String))
        }
        for entry in entries(neighbours) {
            guard let address = entry["dst"] as? String, let mac = entry["lladdr"] as? String,
                (entry["state"] as? [String])?.contains("PERMANENT") == true
            else { continue }
            layout.neighbours.insert(Neighbour(address: address, mac: mac.lowercased()))
        }
        for entry in entries(forwarding) {
            guard let mac = entry["mac"] as? String, let destination = entry["dst"] as? String else { continue }
            layout.forwarding.insert(Forwarding(mac: mac.lowercased(), destination: destination))
        }
        return layout
    }
}
