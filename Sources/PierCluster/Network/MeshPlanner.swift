import Foundation

/// The manager's mesh decisions, as pure functions over its nodes: how each node is reached
/// (from its report and the address its session comes from), which node relays, and every
/// node's peer set.
///
///     direct ── endpoint ──▶ direct           both dial each other
///     nat ── keepalive ──▶ direct             the NAT'd node dials out; the direct one waits
///     nat ──▶ relay ──▶ nat                   two NAT'd nodes reach each other through the relay,
///                                             whose entry routes their subnets (longest prefix
///                                             still sends traffic for direct peers straight to them)
public enum MeshPlanner {
    /// The most addresses a node may report.
    public static let maxAddresses = 64

    /// What is wrong with a node's report, one phrase per field; empty when it can be used.
    public static func problems(in report: NodeNetworkReport) -> [String] {
        var problems: [String] = []
        if let key = report.publicKey, !isPublicKey(key) {
            problems.append("public key \(quoted(key)) is not base64 of 32 bytes")
        }
        if let port = report.listenPort, !(1...65535).contains(port) {
            problems.append("listen port \(port) is outside 1…65535")
        }
        if report.addresses.count > maxAddresses {
            problems.append("\(report.addresses.count) addresses reported, at most \(maxAddresses)")
        } else if let bad = report.addresses.first(where: { !isUnicastAddress($0) }) {
            problems.append("address \(quoted(bad)) is not a unicast IPv4 address")
        }
        if let mtu = report.underlayMTU, !(576...65535).contains(mtu) {
            problems.append("underlay MTU \(mtu) is outside 576…65535")
        }
        return problems
    }

    /// A WireGuard key as `wg` prints it: base64 of 32 bytes.
    public static func isPublicKey(_ text: String) -> Bool {
        text.utf8.count == 44 && Data(base64Encoded: text)?.count == 32
    }

    static func isUnicastAddress(_ text: String) -> Bool {
        guard text.utf8.count <= 15, let a = IPv4Network.parseAddress(text) else { return false }
        let first = a >> 24
        return first != 0 && first != 127 && first < 224
    }

    static func quoted(_ text: String) -> String {
        let shown = text.prefix(48).unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f ? String($0) : "?" }.joined()
        return "\"\(shown)\(text.count > 48 ? "…" : "")\""
    }

    /// How a node is reached. `sourceAddress`: where its session comes from (nil in process).
    /// `colocated`: the node is the manager host's own agent (`pier up`), whose session has no
    /// address: it is reached at the first address it reports.
    public static func network(
        report: NodeNetworkReport?, sourceAddress: String?, colocated: Bool, subnet: IPv4Network, settings: ClusterNetworkSettings
    ) -> NodeNetwork {
        var network = NodeNetwork(subnet: subnet)
        guard let report else {
            network.message = "the agent reports no network side; its containers are reachable on this node only"
            return network
        }
        let problems = problems(in: report)
        guard problems.isEmpty else {
            network.message = "network report refused: " + problems.joined(separator: "; ") + ". The node runs tasks but is not on the mesh"
            return network
        }
        let overhead = settings.dataPath == .wireguard ? WireGuardAddressing.overhead : VXLANAddressing.overhead
        network.mtu = settings.mtu ?? report.underlayMTU.map { $0 - overhead }
        switch settings.dataPath {
        case .wireguard:
            guard report.wireguard != nil, let key = report.publicKey else {
                network.message = "the node cannot run WireGuard (no kernel module, no wireguard-go) or reports no key: not on the mesh"
                return network
            }
            network.publicKey = key
        case .vxlan:
            guard report.vxlan else {
                network.message = "the node's kernel has no VXLAN: not on the mesh"
                return network
            }
        }
        let address: String?
        if colocated {
            address = report.addresses.first
            if address == nil { network.message = "the manager's own node reports no address: not on the mesh" }
        } else if let source = sourceAddress.map(unmapped), report.addresses.contains(source) {
            address = source
        } else {
            address = nil
            let seen = sourceAddress.map { "its session comes from \($0)" } ?? "its session has no address"
            let own =
                report.addresses.isEmpty
                ? "it reports no address" : "not one of its addresses (\(report.addresses.joined(separator: ", ")))"
            switch settings.dataPath {
            case .wireguard:
                network.reachability = .nat
                network.message = "behind NAT: \(seen), \(own); it dials out with a keepalive"
            case .vxlan:
                network.reachability = .nat
                network.message = "behind NAT: \(seen), \(own); VXLAN cannot reach it (the wireguard data path can)"
            }
        }
        if let address {
            network.reachability = .direct
            switch settings.dataPath {
            case .wireguard: network.endpoint = "\(address):\(report.listenPort ?? WireGuardAddressing.defaultPort)"
            case .vxlan: network.endpoint = address
            }
        }
        return network
    }

    /// `::ffff:192.0.2.7` (an IPv4 client of a dual-stack listener) as `192.0.2.7`.
    static func unmapped(_ address: String) -> String {
        address.lowercased().hasPrefix("::ffff:") && address.contains(".") ? String(address.dropFirst(7)) : address
    }

    /// The underlay address in an endpoint (`192.0.2.7:51820` or VXLAN's `192.0.2.7`).
    public static func underlayAddress(of endpoint: String) -> String {
        guard let colon = endpoint.lastIndex(of: ":") else { return endpoint }
        return String(endpoint[..<colon])
    }

    /// The node that relays between NAT'd nodes: a directly reachable node that offers to
    /// (`pier agent --relay`), ready ones first; else the manager's own node when it is directly
    /// reachable; else none. VXLAN has no relay.
    public static func relay(among nodes: [Node], colocatedNodeID: String?, settings: ClusterNetworkSettings) -> String? {
        guard settings.dataPath == .wireguard else { return nil }
        let offered = nodes.filter { $0.network?.reachability == .direct && $0.description.network?.relay == true }
            .sorted {
                ($0.state == .ready ? 0 : 1, $0.description.hostname, $0.id) < ($1.state == .ready ? 0 : 1, $1.description.hostname, $1.id)
            }
        if let first = offered.first { return first.id }
        if let colocatedNodeID, let local = nodes.first(where: { $0.id == colocatedNodeID }), local.network?.reachability == .direct {
            return local.id
        }
        return nil
    }

    /// Every node's peer set, by node id, for nodes that hold a subnet.
    public static func peerSets(nodes: [Node], relayNodeID: String?, settings: ClusterNetworkSettings) -> [String: PeerSet] {
        let members = nodes.compactMap { node in node.network.map { (id: node.id, hostname: node.description.hostname, network: $0) } }
            .sorted { ($0.hostname, $0.id) < ($1.hostname, $1.id) }
        // Each peer's entry is made once, as direct nodes see it and as NAT'd nodes see it; a
        // node's set is then the others' entries (the whole mesh is O(nodes²) entries).
        var direct: [MeshPeer?] = []
        var fromNAT: [MeshPeer?] = []
        var nattedSubnets: [IPv4Network] = []
        for m in members {
            let network = m.network
            switch settings.dataPath {
            case .wireguard:
                guard network.reachability != .none, let key = network.publicKey else {
                    direct.append(nil); fromNAT.append(nil); continue
                }
                let entry = MeshPeer(
                    nodeID: m.id, hostname: m.hostname, publicKey: key, endpoint: network.endpoint, allowedIPs: [network.subnet])
                direct.append(entry)
                if network.reachability == .nat { nattedSubnets.append(network.subnet) }
                // A NAT'd node dials every direct peer and keeps the mapping open; NAT'd peers are
                // reached through the relay, never directly.
                var dialled = entry
                dialled.keepalive = WireGuardAddressing.keepaliveSeconds
                fromNAT.append(network.reachability == .direct ? dialled : nil)
            case .vxlan:
                guard network.reachability == .direct, let endpoint = network.endpoint else {
                    direct.append(nil); fromNAT.append(nil); continue
                }
                direct.append(
                    MeshPeer(
                        nodeID: m.id, hostname: m.hostname, allowedIPs: [network.subnet],
                        underlayAddress: underlayAddress(of: endpoint), vtepMAC: VXLANAddressing.vtepMAC(for: network.subnet)))
                fromNAT.append(nil)
            }
        }
        nattedSubnets.sort()
        var sets: [String: PeerSet] = [:]
        for (index, m) in members.enumerated() {
            var set = PeerSet(
                dataPath: settings.dataPath, clusterRange: settings.range, mtu: m.network.mtu, relay: m.id == relayNodeID, peers: [])
            switch m.network.reachability {
            case .none: break
            case .direct:
                set.peers = direct.enumerated().compactMap { $0.offset == index ? nil : $0.element }
            case .nat:
                set.peers = fromNAT.enumerated().compactMap { other, entry in
                    guard other != index, var entry else { return nil }
                    if entry.nodeID == relayNodeID { entry.allowedIPs += nattedSubnets.filter { $0 != m.network.subnet } }
                    return entry
                }
            }
            sets[m.id] = set
        }
        return sets
    }
}
