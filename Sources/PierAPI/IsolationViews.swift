/// How a container is confined, read back from the spec it was started with (`pier inspect`).
public struct ContainerSecurity: Codable, Sendable, Equatable {
    public var privileged: Bool
    /// `pier-default`, `profile` (one the user gave) or `unconfined`.
    public var seccomp: String
    /// Rules in the filter runc loaded (0 when unconfined).
    public var seccompRules: Int
    /// `private` or `host`.
    public var cgroupNamespace: String
    /// The AppArmor profile, nil where the node has no AppArmor.
    public var appArmor: String?
    public var noNewPrivileges: Bool
    /// nil: no limit.
    public var pidsLimit: Int64?
    /// The bounding set.
    public var capabilities: [String]

    public init(
        privileged: Bool, seccomp: String, seccompRules: Int, cgroupNamespace: String, appArmor: String?,
        noNewPrivileges: Bool, pidsLimit: Int64?, capabilities: [String]
    ) {
        self.privileged = privileged; self.seccomp = seccomp; self.seccompRules = seccompRules
        self.cgroupNamespace = cgroupNamespace; self.appArmor = appArmor; self.noNewPrivileges = noNewPrivileges
        self.pidsLimit = pidsLimit; self.capabilities = capabilities
    }
}

/// What a node can give containers (`pier info`, and the node description the manager schedules by).
public struct NodeIsolation: Codable, Sendable, Equatable {
    /// runc filters system calls (built with libseccomp).
    public var seccomp: Bool
    public var cgroupNamespace: Bool
    /// The kernel enforces AppArmor.
    public var appArmor: Bool
    /// Pier's default profile, when loaded.
    public var appArmorProfile: String?
    /// The seccomp architectures filters cover, native first.
    public var architectures: [String]
    public var kernel: String
    /// The init `--init` runs, when the node has one.
    public var initBinary: String?
    /// The default pids limit of a container.
    public var defaultPidsLimit: Int64

    public init(
        seccomp: Bool, cgroupNamespace: Bool, appArmor: Bool, appArmorProfile: String?, architectures: [String],
        kernel: String, initBinary: String?, defaultPidsLimit: Int64
    ) {
        self.seccomp = seccomp; self.cgroupNamespace = cgroupNamespace; self.appArmor = appArmor
        self.appArmorProfile = appArmorProfile; self.architectures = architectures; self.kernel = kernel
        self.initBinary = initBinary; self.defaultPidsLimit = defaultPidsLimit
    }
}
