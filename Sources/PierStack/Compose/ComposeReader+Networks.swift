import PierSpec

extension ComposeReader {
    static let onlyDefaultNetwork =
        "only the stack's default network exists in Pier: every bridge service of a stack is on it and reaches the others by name; remove this network"

    /// Top-level `networks:`: only `default`, without settings (Pier makes it).
    mutating func networks(_ value: YAMLValue, _ path: String) {
        guard let entries = entries(value, path, what: "network names to networks") else { return }
        for entry in entries {
            let p = Self.join(path, entry.key)
            guard entry.key == "default" else {
                unsupported(p, Self.onlyDefaultNetwork)
                continue
            }
            switch entry.value {
            case .null: break
            case .mapping(let settings) where settings.allSatisfy({ $0.key.hasPrefix("x-") }): break
            default: unsupported(p, "the default network has no settings in Pier (one bridge per node, made by the agent); write default: {} or leave it out")
            }
        }
    }

    /// A service's `networks:`, as a list (`- default`) or a mapping (`default: {aliases: [db]}`):
    /// the aliases it gives on the default network.
    mutating func serviceNetworks(_ value: YAMLValue, _ path: String) -> [String] {
        switch value {
        case .null:
            return []
        case .sequence:
            guard let names = strings(value, path, what: "network names (only default)") else { return [] }
            for (i, name) in names.enumerated() where name != "default" {
                unsupported(Self.index(path, i), "network \"\(name)\": " + Self.onlyDefaultNetwork)
            }
            return []
        case .mapping(let entries):
            var aliases: [String] = []
            for entry in entries where !entry.key.hasPrefix("x-") {
                let p = Self.join(path, entry.key)
                guard entry.key == "default" else {
                    unsupported(p, "network \"\(entry.key)\": " + Self.onlyDefaultNetwork)
                    continue
                }
                if entry.value == .null { continue }
                let hints = ["ipv4_address": "not supported: addresses come from the node's subnet", "ipv6_address": "not supported: Pier's networks are IPv4"]
                guard let f = mapping(entry.value, p, allowed: ["aliases"], hints: hints), let v = f["aliases"] else { continue }
                for (i, alias) in (strings(v, Self.join(p, "aliases"), what: "names such as db") ?? []).enumerated() {
                    if let problem = ObjectName.problem(alias, .label) {
                        invalid(Self.index(Self.join(p, "aliases"), i), "\"\(alias)\" is not a valid name: \(problem)")
                    } else if !aliases.contains(alias) {
                        aliases.append(alias)
                    }
                }
            }
            return aliases
        case .scalar:
            invalid(path, "expected a list of network names or a mapping of network names to settings, found \(value.kindName)")
            return []
        }
    }
}
