import PierSpec

/// One thing wrong with a compose file, at a dotted path such as `services.web.deploy.replicas`.
public struct ComposeProblem: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// A key that is valid Compose but that Pier does not implement (never silently dropped).
        case unsupported
        /// A value of the wrong type or form, a missing required key, an impossible combination.
        case invalid
    }
    /// Dotted path of the key, with list indices: `services.web.ports[1]`; empty for the file itself.
    public var path: String
    public var kind: Kind
    /// What is wrong and what is expected, naming the value.
    public var message: String

    public init(path: String, kind: Kind, message: String) {
        self.path = path; self.kind = kind; self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Why a compose file could not become a stack. Nothing is returned when any of these is thrown.
public enum StackError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read.
    case unreadable(path: String, reason: String)
    /// The file is larger than the limit, or expands (through YAML aliases) beyond it.
    case tooLarge(String)
    /// Not YAML, or YAML whose top level is not a mapping.
    case malformed(String)
    /// Every problem found, unsupported keys and bad values alike, sorted by path.
    case invalid([ComposeProblem])
    /// The stack name given to `pier stack deploy` cannot name services.
    case invalidStackName(name: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            "cannot read compose file \(path): \(reason)"
        case .tooLarge(let message), .malformed(let message):
            message
        case .invalid(let problems):
            (["compose file has \(problems.count) problem\(problems.count == 1 ? "" : "s"); fix \(problems.count == 1 ? "it" : "them") and deploy again:"]
                + problems.map { "  \($0)" }).joined(separator: "\n")
        case .invalidStackName(let name, let reason):
            "stack name \"\(name)\" \(reason)"
        }
    }

    /// The problems of an `.invalid` error; empty for the others.
    public var problems: [ComposeProblem] {
        if case .invalid(let p) = self { return p }
        return []
    }
}
