import PierOCI

/// A container's settings: what `pier run` sends to the agent (`POST /v1/containers`), what a
/// service's tasks run (`TaskTemplate.container`), what a compose service and a CoAP activation
/// become. Every entry point decodes into this one type and calls ``validate()`` before it stores
/// or runs anything; a bad value is refused with an error naming the field and its limit.
public struct ContainerSpec: Codable, Sendable, Equatable {
    /// Image reference: `name[:tag]` or `name@sha256:…`.
    public var image: String
    public var name: String?
    /// Replaces the image's entrypoint when set (empty array clears it).
    public var entrypoint: [String]?
    /// Replaces the image's cmd when non-empty.
    public var command: [String]
    /// `KEY=VALUE` entries, added to (and overriding) the image's environment.
    public var env: [String]
    public var workdir: String?
    /// `user`, `uid`, `user:group` or `uid:gid`.
    public var user: String?
    public var hostname: String?
    public var readOnly: Bool
    /// `HOST:CONTAINER[:ro|rw]` bind mounts.
    public var volumes: [String]
    /// `HOST[:CONTAINER][:rwm]` device mappings; only these devices are visible.
    public var devices: [String]
    /// Memory limit, e.g. `64m`, `1g`, `1048576`.
    public var memory: String?
    /// CPU limit in CPUs, e.g. `0.5`.
    public var cpus: Double?
    public var pidsLimit: Int?
    /// `bridge` (default), `host` or `none`.
    public var network: String?
    /// `HOST:CONTAINER[/tcp|udp]` or `IP:HOST:CONTAINER[/proto]`, bridge network only.
    public var publish: [String]
    /// `no` (default), `on-failure[:N]`, `always`, `unless-stopped`.
    public var restart: String?
    public var health: HealthCheckConfig?
    public var labels: [String: String]
    public var capAdd: [String]
    public var capDrop: [String]
    /// Remove the container when it exits (`--rm`).
    public var autoRemove: Bool
    /// Log rotation: bytes per file and files kept.
    public var logMaxSize: Int?
    public var logMaxFiles: Int?
    /// Signal sent by `stop` before SIGKILL (default from the image, else SIGTERM).
    public var stopSignal: String?
    /// Every capability and host device, no seccomp filter, AppArmor profile or masked paths.
    public var privileged: Bool
    /// `seccomp=unconfined`, `seccomp=<profile JSON>`, `apparmor=NAME`, `no-new-privileges[=false]`.
    public var securityOpt: [String]
    /// `/path[:size=64m,mode=1777,…]` memory-backed mounts.
    public var tmpfs: [String]
    /// `type=bind,source=…,target=…[,readonly]` or `type=tmpfs,target=…[,tmpfs-size=…]`.
    public var mounts: [String]
    /// `nofile=1024[:2048]` resource limits.
    public var ulimits: [String]
    /// Size of /dev/shm, e.g. `64m`.
    public var shmSize: String?
    /// Namespaced kernel parameters, e.g. `net.ipv4.ip_forward: "1"`.
    public var sysctls: [String: String]
    /// Run a tiny init (tini) as process 1 (`--init`).
    public var initProcess: Bool
    /// `host` or `remap` (`--userns`); nil: the node's default (`pier agent --userns`).
    public var userns: String?

    public init(
        image: String, name: String? = nil, entrypoint: [String]? = nil, command: [String] = [],
        env: [String] = [], workdir: String? = nil, user: String? = nil, hostname: String? = nil,
        readOnly: Bool = false, volumes: [String] = [], devices: [String] = [], memory: String? = nil,
        cpus: Double? = nil, pidsLimit: Int? = nil, network: String? = nil, publish: [String] = [],
        restart: String? = nil, health: HealthCheckConfig? = nil, labels: [String: String] = [:],
        capAdd: [String] = [], capDrop: [String] = [], autoRemove: Bool = false,
        logMaxSize: Int? = nil, logMaxFiles: Int? = nil, stopSignal: String? = nil, privileged: Bool = false,
        securityOpt: [String] = [], tmpfs: [String] = [], mounts: [String] = [], ulimits: [String] = [],
        shmSize: String? = nil, sysctls: [String: String] = [:], initProcess: Bool = false, userns: String? = nil
    ) {
        self.image = image; self.name = name; self.entrypoint = entrypoint; self.command = command
        self.env = env; self.workdir = workdir; self.user = user; self.hostname = hostname
        self.readOnly = readOnly; self.volumes = volumes; self.devices = devices; self.memory = memory
        self.cpus = cpus; self.pidsLimit = pidsLimit; self.network = network; self.publish = publish
        self.restart = restart; self.health = health; self.labels = labels; self.capAdd = capAdd
        self.capDrop = capDrop; self.autoRemove = autoRemove; self.logMaxSize = logMaxSize
        self.logMaxFiles = logMaxFiles; self.stopSignal = stopSignal; self.privileged = privileged
        self.securityOpt = securityOpt; self.tmpfs = tmpfs; self.mounts = mounts; self.ulimits = ulimits
        self.shmSize = shmSize; self.sysctls = sysctls; self.initProcess = initProcess; self.userns = userns
    }
}

/// A health check: a command run inside the container (`runc exec`) on an interval.
public struct HealthCheckConfig: Codable, Sendable, Equatable {
    /// Run with `/bin/sh -c` when it is a single string, as Docker's `CMD-SHELL`.
    public var command: [String]
    public var intervalSeconds: Double
    public var timeoutSeconds: Double
    public var retries: Int
    public var startPeriodSeconds: Double

    public init(command: [String], intervalSeconds: Double = 30, timeoutSeconds: Double = 30, retries: Int = 3, startPeriodSeconds: Double = 0) {
        self.command = command; self.intervalSeconds = intervalSeconds; self.timeoutSeconds = timeoutSeconds
        self.retries = retries; self.startPeriodSeconds = startPeriodSeconds
    }
}

/// Request bodies may leave out any field that has a default (`{"image":"busybox"}` is a
/// complete create request), as Docker's API allows; a present field of the wrong type is
/// still an error naming it.
extension ContainerSpec {
    /// The JSON field names of a create request, for callers that report unknown keys by name.
    public static var fieldNames: Set<String> { Set(CodingKeys.allCases.map(\.stringValue)) }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case image, name, entrypoint, command, env, workdir, user, hostname, readOnly, volumes, devices, memory, cpus
        case pidsLimit, network, publish, restart, health, labels, capAdd, capDrop, autoRemove, logMaxSize, logMaxFiles, stopSignal
        case privileged, securityOpt, tmpfs, mounts, ulimits, shmSize, sysctls, userns
        case initProcess = "init"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            image: try c.decode(String.self, forKey: .image),
            name: try c.decodeIfPresent(String.self, forKey: .name),
            entrypoint: try c.decodeIfPresent([String].self, forKey: .entrypoint),
            command: try c.decodeIfPresent([String].self, forKey: .command) ?? [],
            env: try c.decodeIfPresent([String].self, forKey: .env) ?? [],
            workdir: try c.decodeIfPresent(String.self, forKey: .workdir),
            user: try c.decodeIfPresent(String.self, forKey: .user),
            hostname: try c.decodeIfPresent(String.self, forKey: .hostname),
            readOnly: try c.decodeIfPresent(Bool.self, forKey: .readOnly) ?? false,
            volumes: try c.decodeIfPresent([String].self, forKey: .volumes) ?? [],
            devices: try c.decodeIfPresent([String].self, forKey: .devices) ?? [],
            memory: try c.decodeIfPresent(String.self, forKey: .memory),
            cpus: try c.decodeIfPresent(Double.self, forKey: .cpus),
            pidsLimit: try c.decodeIfPresent(Int.self, forKey: .pidsLimit),
            network: try c.decodeIfPresent(String.self, forKey: .network),
            publish: try c.decodeIfPresent([String].self, forKey: .publish) ?? [],
            restart: try c.decodeIfPresent(String.self, forKey: .restart),
            health: try c.decodeIfPresent(HealthCheckConfig.self, forKey: .health),
            labels: try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:],
            capAdd: try c.decodeIfPresent([String].self, forKey: .capAdd) ?? [],
            capDrop: try c.decodeIfPresent([String].self, forKey: .capDrop) ?? [],
            autoRemove: try c.decodeIfPresent(Bool.self, forKey: .autoRemove) ?? false,
            logMaxSize: try c.decodeIfPresent(Int.self, forKey: .logMaxSize),
            logMaxFiles: try c.decodeIfPresent(Int.self, forKey: .logMaxFiles),
            stopSignal: try c.decodeIfPresent(String.self, forKey: .stopSignal),
            privileged: try c.decodeIfPresent(Bool.self, forKey: .privileged) ?? false,
            securityOpt: try c.decodeIfPresent([String].self, forKey: .securityOpt) ?? [],
            tmpfs: try c.decodeIfPresent([String].self, forKey: .tmpfs) ?? [],
            mounts: try c.decodeIfPresent([String].self, forKey: .mounts) ?? [],
            ulimits: try c.decodeIfPresent([String].self, forKey: .ulimits) ?? [],
            shmSize: try c.decodeIfPresent(String.self, forKey: .shmSize),
            sysctls: try c.decodeIfPresent([String: String].self, forKey: .sysctls) ?? [:],
            initProcess: try c.decodeIfPresent(Bool.self, forKey: .initProcess) ?? false,
            userns: try c.decodeIfPresent(String.self, forKey: .userns))
    }
}

extension HealthCheckConfig {
    /// Why this check cannot run, or nil: an empty command, or a period outside 1 ms…1 day (a
    /// shorter one spins a CPU, a longer one overflows the timer it becomes), retries outside
    /// 1…10,000. The agent and the manager both check with it before storing anything.
    public var problem: String? {
        if command.isEmpty { return "health check: the command is empty" }
        for (name, value, minimum) in [("interval", intervalSeconds, 0.001), ("timeout", timeoutSeconds, 0.001), ("start period", startPeriodSeconds, 0)] {
            guard value.isFinite, value >= minimum, value <= 86_400 else {
                return "health check: \(name) \(value)s is outside \(minimum == 0 ? "0" : "1ms")…86400s"
            }
        }
        guard (1...10_000).contains(retries) else { return "health check: retries \(retries) is outside 1…10000" }
        return nil
    }

    private enum CodingKeys: String, CodingKey { case command, intervalSeconds, timeoutSeconds, retries, startPeriodSeconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = HealthCheckConfig(command: [])
        self.init(
            command: try c.decode([String].self, forKey: .command),
            intervalSeconds: try c.decodeIfPresent(Double.self, forKey: .intervalSeconds) ?? d.intervalSeconds,
            timeoutSeconds: try c.decodeIfPresent(Double.self, forKey: .timeoutSeconds) ?? d.timeoutSeconds,
            retries: try c.decodeIfPresent(Int.self, forKey: .retries) ?? d.retries,
            startPeriodSeconds: try c.decodeIfPresent(Double.self, forKey: .startPeriodSeconds) ?? d.startPeriodSeconds)
    }
}

extension ContainerSpec {
    /// The most arguments, environment entries and labels a spec may carry, and the most bytes
    /// all of them together: far above what a container needs, far below what hurts a node.
    public static let maxEntries = 4096
    public static let maxTextBytes = 1 << 20
    /// The most tasks a service of this container may ask for (services, stacks, CoAP activations).
    public static let maxReplicas = 10_000
    /// The longest image reference, user, working directory or hostname field.
    public static let maxFieldBytes = 4096

    /// Checks every field, each against an explicit range, and returns the options the runtime
    /// runs; the first bad value is thrown naming the field (as its `pier run` flag) and what is
    /// accepted. The CLI, the agent's and the manager's APIs, compose, CoAP activations and the
    /// session all call this one function before anything is stored or run. Nothing on the host
    /// is looked at: whether a bind source or a device exists, and how many CPUs there are, are
    /// the node's to check when it creates the container.
    @discardableResult
    public func validate() throws -> ContainerOptions {
        try Self.check(image: image)
        if let name, let problem = ObjectName.problem(name, .container) {
            throw ContainerSpecError.invalid(flag: "--name", value: name, expected: problem)
        }
        try Self.checkList("--entrypoint", entrypoint ?? [])
        try Self.checkList("COMMAND", command)
        try Self.checkList("--env", env)
        try Self.checkList("--label", labels.map { "\($0.key)=\($0.value)" })
        for key in labels.keys where key.isEmpty || key.contains("\0") {
            throw ContainerSpecError.invalid(flag: "--label", value: key, expected: "a label key must be non-empty and without NUL")
        }
        for (flag, value) in [("--user", user), ("--workdir", workdir), ("--hostname", hostname), ("--stop-signal", stopSignal)] {
            if let value, value.utf8.count > Self.maxFieldBytes || value.contains("\0") {
                throw ContainerSpecError.invalid(
                    flag: flag, value: String(value.prefix(64)), expected: "at most \(Self.maxFieldBytes) bytes, without NUL")
            }
        }
        if let problem = health?.problem { throw ContainerSpecError.outOfRange(field: "health", message: problem) }
        if let health { try Self.checkList("--health-cmd", health.command) }
        _ = try ContainerRestartPolicy(parsing: restart)
        return try ContainerOptions(validating: self)
    }

    /// `name[:tag][@digest]` as the image store resolves it, or an image id (`sha256:…` or a hex prefix).
    static func check(image: String) throws {
        let expected = "give an image reference such as busybox, alpine:3.19 or registry:5000/app@sha256:…"
        guard !image.isEmpty, image.utf8.count <= 512 else {
            throw ContainerSpecError.invalid(flag: "IMAGE", value: String(image.prefix(64)), expected: expected + " (at most 512 bytes)")
        }
        let hex = image.hasPrefix("sha256:") ? image.dropFirst(7) : Substring(image)
        if hex.count >= 4, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) { return }
        do {
            _ = try ImageReference(parsing: image)
        } catch {
            throw ContainerSpecError.invalid(flag: "IMAGE", value: image, expected: "\(error)")
        }
    }

    /// At most ``maxEntries`` entries of at most ``maxTextBytes`` together, none with a NUL byte.
    static func checkList(_ flag: String, _ entries: [String]) throws {
        guard entries.count <= Self.maxEntries else {
            throw ContainerSpecError.invalid(flag: flag, value: "\(entries.count) entries", expected: "give at most \(Self.maxEntries)")
        }
        var bytes = 0
        for entry in entries {
            bytes += entry.utf8.count
            guard bytes <= Self.maxTextBytes else {
                throw ContainerSpecError.invalid(
                    flag: flag, value: "\(bytes)+ bytes", expected: "give at most \(Self.maxTextBytes) bytes (1 MiB) in all")
            }
            if entry.utf8.contains(0) {
                throw ContainerSpecError.invalid(flag: flag, value: String(entry.prefix(64)), expected: "entries may not contain NUL bytes")
            }
        }
    }
}
