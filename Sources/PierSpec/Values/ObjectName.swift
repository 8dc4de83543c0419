/// The one rule for names users give to containers, services, stacks, nodes and credentials:
/// letters, digits, `_` and `-`, starting and ending with a letter or digit (Swarm's service
/// names). Container names may also hold `.` (a task's container is `service.slot.id`, and
/// Docker allows it); the other names become DNS labels, so they may not, and they stop at 63.
public enum ObjectName {
    public enum Kind: Sendable {
        /// Container names: up to 128 characters, `.` allowed.
        case container
        /// Service, stack, node and credential names: one DNS label, up to 63 characters.
        case label

        public var limit: Int { self == .container ? 128 : 63 }
    }

    /// Why `name` is not a valid name of this kind, or nil.
    public static func problem(_ name: String, _ kind: Kind) -> String? {
        let rule = "use 1–\(kind.limit) letters, digits, \(kind == .container ? "'_', '.'" : "'_'") and '-', starting and ending with a letter or digit"
        guard let first = name.unicodeScalars.first, let last = name.unicodeScalars.last else { return "the name is empty; \(rule)" }
        guard name.unicodeScalars.count <= kind.limit else { return "the name is longer than \(kind.limit) characters; \(rule)" }
        func alnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) }
        let inner: (Unicode.Scalar) -> Bool = { alnum($0) || $0 == "_" || $0 == "-" || (kind == .container && $0 == ".") }
        guard alnum(first), alnum(last), name.unicodeScalars.allSatisfy(inner) else { return rule }
        return nil
    }

    public static func isValid(_ name: String, _ kind: Kind) -> Bool { problem(name, kind) == nil }
}
