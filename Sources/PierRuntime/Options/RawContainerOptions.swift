/// Run options as the user gave them (the runtime's view of `pier run`'s flags), before
/// validation. Field names follow the agent's `ContainerCreateRequest`.
public struct RawContainerOptions: Sendable, Equatable {
    /// Replaces the image's entrypoint when set (an empty array clears it).
    public var entrypoint: [String]?
    /// Replaces the image's cmd when non-empty.
    public var command: [String]
    /// `KEY=VALUE`, added to and overriding the image's environment.
    public var env: [String]
    public var workdir: String?
    public var user: String?
    public var hostname: String?
    public var readOnly: Bool
    public var volumes: [String]
    public var devices: [String]
    public var memory: String?
    public var cpus: Double?
    public var pidsLimit: Int?
    public var network: String?
    public var publish: [String]
    public var capAdd: [String]
    public var capDrop: [String]
    public var stopSignal: String?
    public var logMaxSize: Int?
    public var logMaxFiles: Int?
    public var privileged: Bool
    /// `--security-opt` entries; `seccomp=` carries the profile's JSON.
    public var securityOpt: [String]
    /// `--tmpfs /path[:options]`.
    public var tmpfs: [String]
    /// `--mount type=bind|tmpfs,…`.
    public var mounts: [String]
    /// `--ulimit name=soft[:hard]`.
    public var ulimits: [String]
    public var shmSize: String?
    public var sysctls: [String: String]
    /// `--init`: a tiny init (tini) as process 1 that reaps zombies and forwards signals.
    public var initProcess: Bool
    /// `host` or `remap`; nil: the node's default.
    public var userns: String?

    public init(
        entrypoint: [String]? = nil, command: [String] = [], env: [String] = [], workdir: String? = nil,
        user: String? = nil, hostname: String? = nil, readOnly: Bool = false, volumes: [String] = [],
        devices: [String] = [], memory: String? = nil, cpus: Double? = nil, pidsLimit: Int? = nil,
        network: String? = nil, publish: [String] = [], capAdd: [String] = [], capDrop: [String] = [],
        stopSignal: String? = nil, logMaxSize: Int? = nil, logMaxFiles: Int? = nil, privileged: Bool = false,
        securityOpt: [String] = [], tmpfs: [String] = [], mounts: [String] = [], ulimits: [String] = [],
        shmSize: String? = nil, sysctls: [String: String] = [:], initProcess: Bool = false, userns: String? = nil
    ) {
        self.entrypoint = entrypoint; self.command = command; self.env = env; self.workdir = workdir
        self.user = user; self.hostname = hostname; self.readOnly = readOnly; self.volumes = volumes
        self.devices = devices; self.memory = memory; self.cpus = cpus; self.pidsLimit = pidsLimit
        self.network = network; self.publish = publish; self.capAdd = capAdd; self.capDrop = capDrop
        self.stopSignal = stopSignal; self.logMaxSize = logMaxSize; self.logMaxFiles = logMaxFiles
        self.privileged = privileged; self.securityOpt = securityOpt; self.tmpfs = tmpfs; self.mounts = mounts
        self.ulimits = ulimits; self.shmSize = shmSize; self.sysctls = sysctls; self.initProcess = initProcess
        self.userns = userns
    }
}
