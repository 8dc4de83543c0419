/// Removes NAT rules that CNI plugins tagged with a container's id (`id: "<id>"` in their
/// comment) and the per-container chains they jump to. The plugins' own DEL misses them when
/// the namespace was already gone (bridge learns the masqueraded address from the interface).
struct IptablesSweeper {
    var iptables: String

    /// Returns what could not be removed.
    func removeRules(mentioning id: String) -> [String] {
        guard let listing = try? Subprocess.run(iptables, ["-w", "-t", "nat", "-L", "-n", "--line-numbers"], timeout: .seconds(30)),
            listing.succeeded
        else {
            return []  // no iptables here: nothing of ours can be left either
        }
        let marker = "id: \"\(id)\""
        guard listing.stdoutText.contains(marker) else { return [] }
        var chain = ""
        var rules: [(chain: String, number: Int)] = []
        var targets = Set<String>()
        for line in listing.stdoutText.split(separator: "\n") {
            if line.hasPrefix("Chain ") {
                chain = String(line.split(separator: " ")[1])
                continue
            }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let number = Int(fields[0]), line.contains(marker) else { continue }
            rules.append((chain, number))
            let target = String(fields[1])
            if target.hasPrefix("CNI-") && !target.hasPrefix("CNI-HOSTPORT-") { targets.insert(target) }
        }
        var problems: [String] = []
        // Highest numbers first, so the numbers of the rules still to delete do not shift.
        for rule in rules.sorted(by: { $0.chain == $1.chain ? $0.number > $1.number : $0.chain < $1.chain }) {
            let r = try? Subprocess.run(iptables, ["-w", "-t", "nat", "-D", rule.chain, "\(rule.number)"], timeout: .seconds(30))
            if r?.succeeded != true {
                problems.append(
                    "cannot delete iptables nat rule \(rule.number) of chain \(rule.chain): \(r?.stderrText ?? "iptables failed")")
            }
        }
        for target in targets.sorted() {
            _ = try? Subprocess.run(iptables, ["-w", "-t", "nat", "-F", target], timeout: .seconds(30))
            let r = try? Subprocess.run(iptables, ["-w", "-t", "nat", "-X", target], timeout: .seconds(30))
            if r?.succeeded != true {
                problems.append("cannot delete iptables nat chain \(target): \(r?.stderrText ?? "iptables failed")")
            }
        }
        return problems
    }
}
