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
    /// `host` or `remap` (absent from agents before user namespaces).
    public var userns: String?
    /// A remapped container's ids, as `/proc/PID/uid_map` and `gid_map` show them: `0 100000 65536`.
    public var uidMap: String?
    public var gidMap: String?

    public init(
        privileged: Bool, seccomp: String, seccompRules: Int, cgroupNamespace: String, appArmor: String?,
        noNewPrivileges: Bool, pidsLimit: Int64?, capabilities: [String], userns: String? = nil, uidMap: String? = nil,
        gidMap: String? = nil
    ) {
        self.privileged = privileged; self.seccomp = seccomp; self.seccompRules = seccompRules
        self.cgroupNamespace = cgroupNamespace; self.appArmor = appArmor; self.noNewPrivileges = noNewPrivileges
        self.pidsLimit = pidsLimit; self.capabilities = capabilities; self.userns = userns; self.uidMap = uidMap
        self.gidMap = gidMap
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
    /// User namespaces (absent from agents before them).
    public var userns: NodeUserns?

    public init(
        seccomp: Bool, cgroupNamespace: Bool, appArmor: Bool, appArmorProfile: String?, architectures: [String],
        kernel: String, initBinary: String?, defaultPidsLimit: Int64, userns: NodeUserns? = nil
    ) {
        self.seccomp = seccomp; self.cgroupNamespace = cgroupNamespace; self.appArmor = appArmor
        self.appArmorProfile = appArmorProfile; self.architectures = architectures; self.kernel = kernel
        self.initBinary = initBinary; self.defaultPidsLimit = defaultPidsLimit; self.userns = userns
    }
}

/// User namespaces on a node: what containers get by default, the range they are remapped to,
/// and how their layers are given to them.
public struct NodeUserns: Codable, Sendable, Equatable {
    /// `host` or `remap`: the user namespace of containers that do not choose (`pier agent --userns`).
    public var defaultMode: String
    /// The `pier` subordinate range, e.g. `uid 100000-165535, gid 100000-165535`; nil: not
    /// set up yet (it is added on the first remapped container) or unusable (see `problem`).
    public var range: String?
    /// Why this node cannot remap containers, if it cannot.
    public var problem: String?
    /// `idmapped` (every layer stored once and mounted idmapped; volumes too) or `chowned-copy`
    /// (a copy of each layer per range; no volumes).
    public var layers: String

    public init(defaultMode: String, range: String?, problem: String?, layers: String) {
        self.defaultMode = defaultMode; self.range = range; self.problem = problem; self.layers = layers
    }
}
