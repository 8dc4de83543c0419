import PierCluster

/// The `pier node ls` table: ID (with `*` for the node this client runs on), HOSTNAME, STATUS,
/// AVAILABILITY, PLATFORM, ROLE, SUBNET, MESH.
public enum NodeListing {
    public static let header = ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "PLATFORM", "ROLE", "SUBNET", "MESH"]

    public static func table(_ nodes: [Node], localNodeID: String? = nil) -> TextTable {
        TextTable(header: header, rows: nodes.map { n in
            [
                n.id == localNodeID ? n.id + " *" : n.id,
                n.description.hostname,
                capitalized(n.state.rawValue),
                capitalized(n.availability.rawValue),
                platform(n.description.platform),
                n.role.rawValue,
                n.network?.subnet.description ?? "",
                mesh(n, in: nodes),
            ]
        })
    }

    /// How the mesh reaches a node: `direct` (`direct, relay` for the relay), `nat` (behind NAT
    /// with no relay: other NAT'd nodes cannot reach it), `via HOST` (behind NAT; NAT'd peers
    /// reach it through that relay, `(down)` when the relay is), `none`; empty before its first hello.
    public static func mesh(_ n: Node, in nodes: [Node]) -> String {
        guard let network = n.network else { return "" }
        switch network.reachability {
        case .direct:
            return nodes.contains { $0.network?.relayNodeID == n.id } ? "direct, relay" : "direct"
        case .nat:
            guard let relayID = network.relayNodeID else { return "nat" }
            guard let relay = nodes.first(where: { $0.id == relayID }) else { return "via \(relayID)" }
            return "via \(relay.description.hostname)" + (relay.state == .down ? " (down)" : "")
        case .none:
            return "none"
        }
    }

    /// What the MESH column cannot say: NAT'd nodes without a relay, or whose relay is down.
    public static func notes(_ nodes: [Node]) -> [String] {
        let natted = nodes.filter { $0.network?.reachability == .nat }
        var notes: [String] = []
        let alone = natted.filter { $0.network?.relayNodeID == nil }
        if !alone.isEmpty {
            notes.append("\(alone.map(\.description.hostname).sorted().joined(separator: ", ")) behind NAT with no relay: "
                + "NAT'd nodes cannot reach each other (start an agent that others reach directly with --relay, or use pier up)")
        }
        let relays = Set(natted.compactMap { $0.network?.relayNodeID })
        for relay in nodes.filter({ relays.contains($0.id) && $0.state == .down }) {
            notes.append("relay \(relay.description.hostname) is down: NAT'd nodes cannot reach each other until it is back")
        }
        return notes
    }

    /// The node whose hostname is `hostname`, when exactly one is (several agents on one host in
    /// tests have their own `--hostname`); nil when unknown.
    public static func localNodeID(_ nodes: [Node], hostname: String) -> String? {
        let matching = nodes.filter { $0.description.hostname == hostname }
        return matching.count == 1 ? matching[0].id : nil
    }

    /// `linux/arm64`, `linux/arm/v7`; the OS alone until the agent has reported its architecture.
    public static func platform(_ p: Platform) -> String {
        ([p.os, p.architecture] + [p.variant ?? ""]).filter { !$0.isEmpty }.joined(separator: "/")
    }

    static func capitalized(_ word: String) -> String { word.prefix(1).uppercased() + word.dropFirst() }
}
