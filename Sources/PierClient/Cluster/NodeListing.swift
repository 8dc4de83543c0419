import PierCluster

/// The `pier node ls` table: ID (with `*` for the node this client runs on), HOSTNAME, STATUS,
/// AVAILABILITY, PLATFORM, ROLE.
public enum NodeListing {
    public static let header = ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "PLATFORM", "ROLE"]

    public static func table(_ nodes: [Node], localNodeID: String? = nil) -> TextTable {
        TextTable(header: header, rows: nodes.map { n in
            [
                n.id == localNodeID ? n.id + " *" : n.id,
                n.description.hostname,
                capitalized(n.state.rawValue),
                capitalized(n.availability.rawValue),
                platform(n.description.platform),
                n.role.rawValue,
            ]
        })
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
