import PierCluster

/// The agent's own iptables rules for a node with a leased subnet, each set in a chain of its own
/// (made idempotently, jumped to from the built-in chain, removed by `NodeMesh.tearDown`):
///
/// - nat `PIER-POSTROUTING`: what the containers send out of the cluster range is masqueraded;
///   traffic between cluster addresses keeps its source (the bridge's own masquerading is off).
/// - filter `PIER-FORWARD`: forwarding between the bridge and the mesh inside the cluster range
///   is accepted (a host whose FORWARD policy is DROP would lose it), and on a relay also from
///   the mesh back into it, between two peers.
enum MeshFirewall {
    static let natChain = "PIER-POSTROUTING"
    static let filterChain = "PIER-FORWARD"

    struct Chain: Equatable {
        var table: String
        var name: String
        /// The built-in chain that jumps to it, and whether the jump goes first (`-I … 1`) or last.
        var parent: String
        var first: Bool
        /// The rules, as `iptables -A <name>` takes them.
        var rules: [[String]]
    }

    static func masquerade(subnet: IPv4Network, clusterRange: IPv4Network) -> Chain {
        Chain(table: "nat", name: natChain, parent: "POSTROUTING", first: false, rules: [
            ["-s", subnet.description, "!", "-d", clusterRange.description, "-m", "comment", "--comment", "pier: leaving the cluster",
             "-j", "MASQUERADE"],
        ])
    }

    static func forward(bridge: String, mesh: String, subnet: IPv4Network, clusterRange: IPv4Network, relay: Bool) -> Chain {
        var rules = [
            ["-i", bridge, "-o", mesh, "-s", subnet.description, "-d", clusterRange.description, "-j", "ACCEPT"],
            ["-i", mesh, "-o", bridge, "-s", clusterRange.description, "-d", subnet.description, "-j", "ACCEPT"],
        ]
        if relay { rules.append(["-i", mesh, "-o", mesh, "-s", clusterRange.description, "-d", clusterRange.description, "-j", "ACCEPT"]) }
        return Chain(table: "filter", name: filterChain, parent: "FORWARD", first: true, rules: rules)
    }

    /// The calls that make `chain` hold exactly its rules when `present` (`iptables -C` of each)
    /// says it does not: create (an existing chain's error is ignored), jump, flush, append.
    static func install(_ chain: Chain, jumpPresent: Bool, rulesPresent: Bool, chainExists: Bool) -> [[String]] {
        let base = ["iptables", "-w", "-t", chain.table]
        var out: [[String]] = []
        if !chainExists { out.append(base + ["-N", chain.name]) }
        if !jumpPresent {
            out.append(base + (chain.first ? ["-I", chain.parent, "1"] : ["-A", chain.parent]) + ["-j", chain.name])
        }
        if !rulesPresent {
            out.append(base + ["-F", chain.name])
            for rule in chain.rules { out.append(base + ["-A", chain.name] + rule) }
        }
        return out
    }

    /// The calls that remove `chain` and the jump to it.
    static func remove(table: String, name: String, parent: String) -> [[String]] {
        let base = ["iptables", "-w", "-t", table]
        return [base + ["-D", parent, "-j", name], base + ["-F", name], base + ["-X", name]]
    }
}
