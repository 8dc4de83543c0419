/// A malformed part of a service spec, found before anything is stored.
public enum ClusterSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A placement constraint that does not parse (`node.labels.zone=a`, `node.color==red`).
    case malformedConstraint(String, reason: String)
    /// A placement preference that does not parse (`spread=zone`).
    case malformedPreference(String, reason: String)
    /// A numeric or enumerated field out of range; the first payload names the field.
    case invalidField(String, reason: String)

    public var description: String {
        switch self {
        case .malformedConstraint(let text, let reason):
            return "constraint \"\(text)\" is malformed: \(reason); use KEY==VALUE or KEY!=VALUE with KEY one of node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.NAME"
        case .malformedPreference(let text, let reason):
            return "placement preference \"\(text)\" is malformed: \(reason); use spread=node.labels.NAME"
        case .invalidField(let field, let reason):
            return "\(field): \(reason)"
        }
    }
}

/// A node attribute that constraints and spread preferences refer to.
public enum NodeAttribute: Sendable, Hashable, CustomStringConvertible {
    case id, hostname, role, os, arch
    case label(String)

    /// Parses `node.id`, `node.hostname`, `node.role`, `node.platform.os`, `node.platform.arch`,
    /// `node.labels.NAME`; nil for anything else.
    public init?(key: String) {
        switch key {
        case "node.id": self = .id
        case "node.hostname": self = .hostname
        case "node.role": self = .role
        case "node.platform.os": self = .os
        case "node.platform.arch": self = .arch
        default:
            let prefix = "node.labels."
            guard key.hasPrefix(prefix), key.count > prefix.count else { return nil }
            self = .label(String(key.dropFirst(prefix.count)))
        }
    }

    public var description: String {
        switch self {
        case .id: "node.id"
        case .hostname: "node.hostname"
        case .role: "node.role"
        case .os: "node.platform.os"
        case .arch: "node.platform.arch"
        case .label(let name): "node.labels.\(name)"
        }
    }

    /// The node's value for this attribute, nil when a label is missing. Architectures are normalized.
    public func value(of node: Node) -> String? {
        switch self {
        case .id: node.id
        case .hostname: node.description.hostname
        case .role: node.role.rawValue
        case .os: node.description.platform.os.lowercased()
        case .arch: Platform.normalizedArchitecture(node.description.platform.architecture)
        case .label(let name): node.labels[name]
        }
    }
}

extension Platform {
    /// OCI's name for an architecture, accepting the kernel's and Docker's aliases
    /// (`x86_64` → `amd64`, `aarch64` → `arm64`, `armv7l` → `arm`).
    public static func normalizedArchitecture(_ arch: String) -> String {
        switch arch.lowercased() {
        case "x86_64", "x86-64", "amd64": "amd64"
        case "aarch64", "arm64", "arm64v8": "arm64"
        case "arm", "armhf", "armel", "armv7", "armv7l", "armv6", "armv6l", "arm32v7", "arm32v6": "arm"
        case "i386", "i686", "x86", "386": "386"
        case let other: other
        }
    }
}

/// A placement constraint, Swarm's `--constraint node.labels.zone==a`.
public struct Constraint: Sendable, Hashable, CustomStringConvertible {
    public var attribute: NodeAttribute
    /// `==` when true, `!=` when false.
    public var equals: Bool
    public var value: String

    public init(attribute: NodeAttribute, equals: Bool, value: String) {
        self.attribute = attribute; self.equals = equals; self.value = value
    }

    /// Parses one constraint; throws `ClusterSpecError.malformedConstraint` naming it.
    public init(parsing text: String) throws(ClusterSpecError) {
        let trimmed = text.trimmingWhitespace()
        let op: String
        if trimmed.contains("==") { op = "==" } else if trimmed.contains("!=") { op = "!=" } else {
            throw .malformedConstraint(text, reason: "no == or != operator")
        }
        guard let range = trimmed.range(of: op) else { throw .malformedConstraint(text, reason: "no \(op) operator") }
        let key = String(trimmed[..<range.lowerBound]).trimmingWhitespace()
        let value = String(trimmed[range.upperBound...]).trimmingWhitespace()
        guard !key.isEmpty else { throw .malformedConstraint(text, reason: "no key before \(op)") }
        guard !value.isEmpty else { throw .malformedConstraint(text, reason: "no value after \(op)") }
        guard !value.contains("=") && !value.contains("!") else {
            throw .malformedConstraint(text, reason: "more than one operator")
        }
        guard let attribute = NodeAttribute(key: key) else {
            throw .malformedConstraint(text, reason: "unknown key \"\(key)\"")
        }
        switch attribute {
        case .role:
            guard NodeRole(rawValue: value.lowercased()) != nil else {
                throw .malformedConstraint(text, reason: "role \"\(value)\" is not worker or manager")
            }
            self.init(attribute: attribute, equals: op == "==", value: value.lowercased())
        case .arch:
            self.init(attribute: attribute, equals: op == "==", value: Platform.normalizedArchitecture(value))
        default:
            self.init(attribute: attribute, equals: op == "==", value: value)
        }
    }

    /// Parses every constraint of a placement.
    public static func parse(_ texts: [String]) throws(ClusterSpecError) -> [Constraint] {
        var result: [Constraint] = []
        for text in texts { result.append(try Constraint(parsing: text)) }
        return result
    }

    /// Whether the node satisfies the constraint. A missing label never equals anything.
    /// Labels compare exactly; ids, hostnames, roles and platforms ignore case, as Swarm's do.
    public func matches(_ node: Node) -> Bool {
        guard let actual = attribute.value(of: node) else { return !equals }
        let same: Bool
        if case .label = attribute { same = actual == value } else { same = actual.lowercased() == value.lowercased() }
        return same == equals
    }

    public var description: String { "\(attribute)\(equals ? "==" : "!=")\(value)" }
}

/// A placement preference, Swarm's `--placement-pref spread=node.labels.zone`: tasks are spread
/// evenly over the attribute's values (nodes without the label form a group of their own).
public struct PlacementPreference: Sendable, Hashable, CustomStringConvertible {
    public var spread: NodeAttribute

    public init(spread: NodeAttribute) { self.spread = spread }

    /// Parses `spread=node.labels.NAME` (any constraint key is accepted as the descriptor).
    public init(parsing text: String) throws(ClusterSpecError) {
        let trimmed = text.trimmingWhitespace()
        guard let eq = trimmed.firstIndex(of: "=") else {
            throw .malformedPreference(text, reason: "no = between strategy and descriptor")
        }
        let strategy = trimmed[..<eq].trimmingWhitespace()
        let descriptor = trimmed[trimmed.index(after: eq)...].trimmingWhitespace()
        guard strategy == "spread" else {
            throw .malformedPreference(text, reason: "strategy \"\(strategy)\" is not spread")
        }
        guard let attribute = NodeAttribute(key: descriptor) else {
            throw .malformedPreference(text, reason: "unknown descriptor \"\(descriptor)\"")
        }
        self.init(spread: attribute)
    }

    public static func parse(_ texts: [String]) throws(ClusterSpecError) -> [PlacementPreference] {
        var result: [PlacementPreference] = []
        for text in texts { result.append(try PlacementPreference(parsing: text)) }
        return result
    }

    public var description: String { "spread=\(spread)" }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
