/// What a seccomp filter does with a call (runtime-spec `SCMP_ACT_*`).
public enum SeccompAction: Sendable, Hashable, CustomStringConvertible {
    case allow
    /// The call fails with this errno (1 = EPERM, 38 = ENOSYS).
    case errno(UInt32)
    case killThread
    case killProcess
    case trap
    case log
    /// A tracer gets the event with this message.
    case trace(UInt32)

    public static let eperm: UInt32 = 1
    public static let enosys: UInt32 = 38

    /// The runtime-spec action name.
    public var specName: String {
        switch self {
        case .allow: return "SCMP_ACT_ALLOW"
        case .errno: return "SCMP_ACT_ERRNO"
        case .killThread: return "SCMP_ACT_KILL_THREAD"
        case .killProcess: return "SCMP_ACT_KILL_PROCESS"
        case .trap: return "SCMP_ACT_TRAP"
        case .log: return "SCMP_ACT_LOG"
        case .trace: return "SCMP_ACT_TRACE"
        }
    }

    /// The number `errnoRet` carries, for errno and trace.
    public var number: UInt32? {
        switch self {
        case .errno(let n), .trace(let n): return n
        default: return nil
        }
    }

    /// The action names a profile may use; `SCMP_ACT_NOTIFY` is refused (it needs a listener Pier does not run).
    public static func parse(_ name: String, number: UInt32?) -> SeccompAction? {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(number ?? eperm)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .killThread
        case "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "SCMP_ACT_TRAP": return .trap
        case "SCMP_ACT_LOG": return .log
        case "SCMP_ACT_TRACE": return .trace(number ?? eperm)
        default: return nil
        }
    }

    public var description: String {
        if let number { return "\(specName)(\(number))" }
        return specName
    }
}

/// One rule of a seccomp policy before it is resolved for a container: calls, what they get,
/// argument conditions, and when it applies (the container's capabilities, the node's
/// architecture, the kernel). Pier's default policy and Docker-format profiles both become these.
public struct SeccompRule: Sendable, Hashable {
    public var names: [String]
    public var action: SeccompAction
    public var args: [SeccompArgument]
    /// Applies only when the container has every one of these capabilities.
    public var requiresCapabilities: [String]
    /// Applies only when the container has none of these capabilities.
    public var unlessCapabilities: [String]
    /// Applies only on these native architectures (empty: on all).
    public var onlyOn: [SeccompArchitecture]
    /// Applies on no native architecture among these.
    public var notOn: [SeccompArchitecture]
    /// Applies only when the profile named architectures (Docker's `arches`) and none is one
    /// Pier runs on: such a rule never applies here, and its names go unchecked.
    public var foreignOnly: Bool
    /// Applies only from this kernel version on (major, minor).
    public var minKernel: KernelVersion?

    public init(
        _ names: [String], _ action: SeccompAction = .allow, args: [SeccompArgument] = [],
        requires: [String] = [], unless: [String] = [], onlyOn: [SeccompArchitecture] = [],
        notOn: [SeccompArchitecture] = [], foreignOnly: Bool = false, minKernel: KernelVersion? = nil
    ) {
        self.names = names; self.action = action; self.args = args; self.requiresCapabilities = requires
        self.unlessCapabilities = unless; self.onlyOn = onlyOn; self.notOn = notOn
        self.foreignOnly = foreignOnly; self.minKernel = minKernel
    }

    /// Whether the rule applies to a container with `capabilities` on `architecture` under `kernel`.
    public func applies(capabilities: Set<String>, architecture: SeccompArchitecture, kernel: KernelVersion) -> Bool {
        if foreignOnly { return false }
        if !requiresCapabilities.allSatisfy(capabilities.contains) { return false }
        if unlessCapabilities.contains(where: capabilities.contains) { return false }
        if !onlyOn.isEmpty && !onlyOn.contains(architecture) { return false }
        if notOn.contains(architecture) { return false }
        if let minKernel, kernel < minKernel { return false }
        return true
    }
}

/// A kernel release as `major.minor`, compared in that order.
public struct KernelVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    public init(_ major: Int, _ minor: Int) { self.major = major; self.minor = minor }

    /// `6.18.44-fc-v1300` → 6.18; nil when it does not start with two numbers.
    public init?(parsing text: String) {
        let parts = text.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2, text.first?.isNumber == true else { return nil }
        major = parts[0]; minor = parts[1]
    }

    public static func < (a: KernelVersion, b: KernelVersion) -> Bool { (a.major, a.minor) < (b.major, b.minor) }

    public var description: String { "\(major).\(minor)" }
}
