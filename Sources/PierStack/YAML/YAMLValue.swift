import Yams

/// A YAML document reduced to what a compose file holds: scalars as their source text, lists, and
/// mappings with string keys in file order. Merge keys (`<<: *base`) are applied and aliases
/// expanded, within limits, so that a small hostile file cannot expand into a huge one.
enum YAMLValue: Sendable, Equatable {
    case null
    /// The scalar's text as written; `plain` is false when it was quoted or a block scalar.
    case scalar(String, plain: Bool)
    case sequence([YAMLValue])
    case mapping([Entry])

    struct Entry: Sendable, Equatable {
        var key: String
        var value: YAMLValue
    }

    /// Size limits applied while reading.
    struct Limits: Sendable {
        /// Largest file accepted, in bytes.
        var maxBytes = 1 << 20
        /// Deepest nesting of lists and mappings; compose files need fewer than ten levels.
        var maxDepth = 32
        /// Most nodes after aliases are expanded.
        var maxNodes = 100_000
        /// Most scalar bytes after aliases are expanded.
        var maxScalarBytes = 8 << 20
    }

    /// A word for error messages: "a string", "a list", "a mapping", "null".
    var kindName: String {
        switch self {
        case .null: "nothing (null)"
        case .scalar(let s, _): "\"\(s.count > 60 ? String(s.prefix(60)) + "…" : s)\""
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }

    /// Parses YAML text (a single document) into a value, refusing text past the limits.
    static func parse(_ text: String, limits: Limits = Limits()) throws(StackError) -> YAMLValue {
        let bytes = text.utf8.count
        guard bytes <= limits.maxBytes else {
            throw .tooLarge("compose file is \(bytes) bytes; the limit is \(limits.maxBytes) bytes (a compose file is a few kilobytes)")
        }
        guard !text.utf8.contains(0) else { throw .malformed("compose file contains a NUL byte; it is not a YAML text file") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text, .default, .default, .utf8)
        } catch {
            throw .malformed("compose file is not valid YAML: \(error)")
        }
        guard let node else { throw .malformed("compose file is empty; it needs at least a services: mapping") }
        var budget = Budget(nodes: limits.maxNodes, scalarBytes: limits.maxScalarBytes)
        return try convert(node, depth: 0, limits: limits, budget: &budget)
    }

    private struct Budget {
        var nodes: Int
        var scalarBytes: Int
    }

    private static func convert(_ node: Node, depth: Int, limits: Limits, budget: inout Budget) throws(StackError) -> YAMLValue {
        guard depth <= limits.maxDepth else {
            throw .tooLarge("compose file nests lists and mappings more than \(limits.maxDepth) levels deep\(at(node)); a compose file needs fewer than ten")
        }
        budget.nodes -= 1
        guard budget.nodes >= 0 else {
            throw .tooLarge("compose file expands to more than \(limits.maxNodes) values (through YAML aliases?); refusing to read it")
        }
        switch node {
        case .scalar(let s):
            budget.scalarBytes -= s.string.utf8.count
            guard budget.scalarBytes >= 0 else {
                throw .tooLarge("compose file expands to more than \(limits.maxScalarBytes) bytes of text (through YAML aliases?); refusing to read it")
            }
            if s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return .null }
            return .scalar(s.string, plain: s.style == .plain)
        case .sequence(let seq):
            var items: [YAMLValue] = []
            items.reserveCapacity(seq.count)
            for item in seq { items.append(try convert(item, depth: depth + 1, limits: limits, budget: &budget)) }
            return .sequence(items)
        case .mapping(let map):
            var explicit: [Entry] = []
            var merged: [Entry] = []
            var mergedKeys = Set<String>()
            for (keyNode, valueNode) in map {
                guard case .scalar(let key) = keyNode else {
                    throw .malformed("compose file has a list or mapping as a mapping key\(at(keyNode)); keys must be plain names")
                }
                let value = try convert(valueNode, depth: depth + 1, limits: limits, budget: &budget)
                if key.style == .plain, key.string == "<<" {
                    // YAML merge key: earlier sources win over later ones, explicit keys over all.
                    let sources: [YAMLValue]
                    switch value {
                    case .mapping: sources = [value]
                    case .sequence(let items): sources = items
                    default: throw .malformed("compose file merges (<<) something that is not a mapping\(at(valueNode))")
                    }
                    for source in sources {
                        guard case .mapping(let entries) = source else {
                            throw .malformed("compose file merges (<<) something that is not a mapping\(at(valueNode))")
                        }
                        for e in entries where mergedKeys.insert(e.key).inserted { merged.append(e) }
                    }
                } else {
                    explicit.append(Entry(key: key.string, value: value))
                }
            }
            let explicitKeys = Set(explicit.map(\.key))
            let inherited = merged.filter { !explicitKeys.contains($0.key) }
            return .mapping(inherited + explicit)
        case .alias:
            throw .malformed("compose file has an unresolved YAML alias\(at(node))")
        }
    }

    private static func at(_ node: Node) -> String {
        node.mark.map { " (line \($0.line), column \($0.column))" } ?? ""
    }
}
