import Foundation
import PierCluster
import PierRuntime

/// What the node's network looks like, read with `ip -j` (in the mesh's network namespace):
/// its own underlay addresses and MTU, and whether it can run WireGuard and VXLAN.
struct HostNetwork: Sendable {
    var commands: HostNetworkCommands

    struct Interface: Equatable, Sendable {
        var name: String
        var mtu: Int?
        var addresses: [IPv4Network]
    }

    /// The node's interfaces with IPv4 addresses of global scope, without those in `excluding`
    /// (the bridge, the mesh) and loopback.
    func underlay(excluding: Set<String>) -> [Interface] {
        let out = commands.run("ip", ["-j", "-4", "address", "show"])
        guard out.succeeded else { return [] }
        return Self.parseAddresses(out.stdout).filter { !excluding.contains($0.name) && $0.name != "lo" && !$0.addresses.isEmpty }
    }

    static func parseAddresses(_ json: String) -> [Interface] {
        let entries = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [[String: Any]] ?? []
        return entries.compactMap { entry in
            guard let name = entry["ifname"] as? String else { return nil }
            let flags = entry["flags"] as? [String] ?? []
            if flags.contains("LOOPBACK") { return nil }
            let addresses = (entry["addr_info"] as? [[String: Any]] ?? []).compactMap { info -> IPv4Network? in
                guard info["family"] as? String == "inet", info["scope"] as? String != "host", let local = info["local"] as? String,
                    let prefix = info["prefixlen"] as? Int
                else { return nil }
                return try? IPv4Network(parsing: "\(local)/\(prefix)")
            }
            return Interface(name: name, mtu: entry["mtu"] as? Int, addresses: addresses)
        }
    }

    /// The interface of the default route (or of the route to `toward`), if it is one of `interfaces`;
    /// else the first of them.
    func primary(of interfaces: [Interface], toward: String? = nil) -> Interface? {
        let out = toward.map { commands.run("ip", ["-j", "-4", "route", "get", $0]) } ?? commands.run("ip", ["-j", "-4", "route", "show", "default"])
        let routes = out.succeeded ? (try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8))) as? [[String: Any]] ?? [] : []
        if let dev = routes.first?["dev"] as? String, let match = interfaces.first(where: { $0.name == dev }) { return match }
        return interfaces.first
    }

    /// Whether the link exists.
    func exists(_ interface: String) -> Bool { commands.run("ip", ["link", "show", "dev", interface]).succeeded }

    /// `ip -d -j link show`'s kind and VXLAN data of the link, nil when it does not exist.
    func linkDetails(_ interface: String) -> [String: Any]? {
        let out = commands.run("ip", ["-d", "-j", "link", "show", "dev", interface])
        guard out.succeeded else { return nil }
        return ((try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8))) as? [[String: Any]])?.first
    }

    /// `kernel` when the kernel has WireGuard (module loaded, or a link of the type can be
    /// made), `wireguard-go` when the binary is there and /dev/net/tun opens, else nil. Both need `wg`.
    func wireguardSupport(probeName: String) -> String? {
        guard HostNetworkCommands.locate("wg") != nil else { return nil }
        if FileManager.default.fileExists(atPath: "/sys/module/wireguard") { return "kernel" }
        if commands.run("ip", ["link", "add", probeName, "type", "wireguard"]).succeeded {
            _ = commands.run("ip", ["link", "delete", probeName])
            return "kernel"
        }
        guard HostNetworkCommands.locate("wireguard-go") != nil else { return nil }
        let fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        close(fd)
        return "wireguard-go"
    }

    /// Whether the kernel has VXLAN (module loaded, or a link of the type can be made).
    func vxlanSupport(probeName: String) -> Bool {
        if FileManager.default.fileExists(atPath: "/sys/module/vxlan") { return true }
        guard commands.run("ip", ["link", "add", probeName, "type", "vxlan", "id", "1", "dstport", "0"]).succeeded else { return false }
        _ = commands.run("ip", ["link", "delete", probeName])
        return true
    }
}
