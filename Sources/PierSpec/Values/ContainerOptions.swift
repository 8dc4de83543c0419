/// Validated run options: what the spec builder, the network and the shim consume. Building
/// one checks every value (host paths and devices included) and creates nothing.
public struct ContainerOptions: Sendable, Equatable {
    public var entrypoint: [String]?
    public var command: [String]
    /// `KEY=VALUE` entries.
    public var env: [String]
    public var workdir: String?
    public var user: UserSpec?
    public var hostname: String?
    public var readOnly: Bool
    public var volumes: [BindMount]
    public var devices: [DeviceRequest]
    public var memory: MemorySize?
    public var cpus: CPULimit?
    /// Most processes in the container; nil: no limit. Defaults to ``defaultPidsLimit``.
    public var pidsLimit: Int64?
    public var network: NetworkMode
    public var ports: [PortMapping]
    /// Normalized names (`CAP_NET_ADMIN`, or `ALL`).
    public var capAdd: [String]
    public var capDrop: [String]
    public var stopSignal: Signal?
    public var logMaxSize: Int64?
    public var logMaxFiles: Int?
    /// Every capability and device, no seccomp, AppArmor or masked paths, the host's cgroup namespace.
    public var privileged: Bool
    public var security: SecurityOptions
    public var tmpfs: [TmpfsMount]
    public var ulimits: [Ulimit]
    /// Size of /dev/shm (default 64 MiB).
    public var shmSize: MemorySize?
    /// Namespaced kernel parameters (`net.*`, IPC's `kernel.*`, `fs.mqueue.*`).
    public var sysctls: [String: String]
    public var initProcess: Bool
    /// `--userns`; nil: the node's default (`pier agent --userns`).
    public var userns: UsernsMode?

    /// Options with every default: no limits but the default pids limit, bridge network,
    /// Docker's capabilities, Pier's seccomp policy.
    public init(
        entrypoint: [String]? = nil, command: [String] = [], env: [String] = [], workdir: String? = nil,
        user: UserSpec? = nil, hostname: String? = nil, readOnly: Bool = false, volumes: [BindMount] = [],
        devices: [DeviceRequest] = [], memory: MemorySize? = nil, cpus: CPULimit? = nil,
        pidsLimit: Int64? = Self.defaultPidsLimit,
        network: NetworkMode = .bridge, ports: [PortMapping] = [], capAdd: [String] = [], capDrop: [String] = [],
        stopSignal: Signal? = nil, logMaxSize: Int64? = nil, logMaxFiles: Int? = nil, privileged: Bool = false,
        security: SecurityOptions = SecurityOptions(), tmpfs: [TmpfsMount] = [], ulimits: [Ulimit] = [],
        shmSize: MemorySize? = nil, sysctls: [String: String] = [:], initProcess: Bool = false, userns: UsernsMode? = nil
    ) {
        self.entrypoint = entrypoint; self.command = command; self.env = env; self.workdir = workdir
        self.user = user; self.hostname = hostname; self.readOnly = readOnly; self.volumes = volumes
        self.devices = devices; self.memory = memory; self.cpus = cpus; self.pidsLimit = pidsLimit
        self.network = network; self.ports = ports; self.capAdd = capAdd; self.capDrop = capDrop
        self.stopSignal = stopSignal; self.logMaxSize = logMaxSize; self.logMaxFiles = logMaxFiles
        self.privileged = privileged; self.security = security; self.tmpfs = tmpfs; self.ulimits = ulimits
        self.shmSize = shmSize; self.sysctls = sysctls; self.initProcess = initProcess; self.userns = userns
    }

    /// Processes a container may have unless it asks otherwise: a fork bomb stops there.
    public static let defaultPidsLimit: Int64 = 4096
    /// The largest `--pids-limit`, `--log-opt max-file` and the like: far above any real need,
    /// far below anything that overflows.
    public static let maxCount = 4_194_304
    /// The largest log file a container may keep before rotating.
    public static let maxLogSize: Int64 = 1 << 40

    /// Checks every option of `raw` (``ContainerSpec/validate()``); the first bad one is thrown
    /// as a `ContainerSpecError` naming its flag and what is accepted. Nothing on the host is
    /// looked at: host paths, devices and the node's CPUs are the runtime's to check.
    init(validating raw: ContainerSpec) throws {
        self.init()
        entrypoint = raw.entrypoint
        command = raw.command
        for entry in raw.env {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex, !entry.contains("\0") else {
                throw ContainerSpecError.invalid(flag: "--env", value: entry, expected: "expected KEY=VALUE with a non-empty KEY")
            }
        }
        env = raw.env
        if let w = raw.workdir, !w.isEmpty {
            guard w.hasPrefix("/") else {
                throw ContainerSpecError.invalid(flag: "--workdir", value: w, expected: "the working directory must be an absolute path")
            }
            workdir = w
        }
        if let u = raw.user, !u.isEmpty { user = try UserSpec(parsing: u) }
        if let h = raw.hostname, !h.isEmpty {
            guard Self.isValidHostname(h) else {
                throw ContainerSpecError.invalid(
                    flag: "--hostname", value: h,
                    expected: "use up to 63 letters, digits, '-' and '.', not starting or ending with '-' or '.'")
            }
            hostname = h
        }
        readOnly = raw.readOnly
        volumes = try raw.volumes.map { try BindMount(parsing: $0, checkHostPath: false) }
        tmpfs = try raw.tmpfs.map { try TmpfsMount(parsing: $0) }
        for mount in raw.mounts {
            switch try MountOption(parsing: mount, checkHostPath: false) {
            case .bind(let bind): volumes.append(bind)
            case .tmpfs(let t): tmpfs.append(t)
            }
        }
        if let dup = Self.firstDuplicate(volumes.map(\.destination) + tmpfs.map(\.destination)) {
            throw ContainerSpecError.conflict(
                "--volume/--mount/--tmpfs: \(dup) is the target of two mounts; give each container path once")
        }
        devices = try raw.devices.map { try DeviceRequest(parsing: $0) }
        if let dup = Self.firstDuplicate(devices.map(\.containerPath)) {
            throw ContainerSpecError.conflict("--device: \(dup) is the target of two devices; give each container path once")
        }
        if let m = raw.memory, !m.isEmpty {
            let size = try MemorySize(parsing: m, flag: "--memory")
            guard size >= MemorySize.minimumLimit else {
                throw ContainerSpecError.invalid(flag: "--memory", value: m, expected: "the minimum memory limit is 6m (6 MiB)")
            }
            memory = size
        }
        if let c = raw.cpus { cpus = try CPULimit(cpus: c) }
        if let p = raw.pidsLimit {
            guard (-1...Self.maxCount).contains(p) else {
                throw ContainerSpecError.invalid(
                    flag: "--pids-limit", value: "\(p)", expected: "expected a number up to \(Self.maxCount), or 0 or -1 for no limit")
            }
            pidsLimit = p > 0 ? Int64(p) : nil
        }
        privileged = raw.privileged
        security = try SecurityOptions(parsing: raw.securityOpt)
        if privileged, case .profile = security.seccomp {
            throw ContainerSpecError.conflict("--privileged runs without seccomp; leave out --security-opt seccomp=PROFILE or --privileged")
        }
        ulimits = try raw.ulimits.map { try Ulimit(parsing: $0) }
        if let dup = Self.firstDuplicate(ulimits.map(\.name)) {
            throw ContainerSpecError.conflict("--ulimit \(dup) is given twice; give each limit once")
        }
        if let s = raw.shmSize, !s.isEmpty { shmSize = try MemorySize(parsing: s, flag: "--shm-size") }
        initProcess = raw.initProcess
        if let u = raw.userns, !u.isEmpty { userns = try UsernsMode(parsing: u) }
        network = try NetworkMode(parsing: raw.network)
        ports = try raw.publish.map { try PortMapping(parsing: $0) }
        if !ports.isEmpty && network != .bridge {
            throw ContainerSpecError.conflict(
                "--publish needs --network bridge (the container's ports are already the node's with host, and unreachable with none)")
        }
        if let dup = Self.firstDuplicate(ports.map { "\($0.hostIP ?? "0.0.0.0"):\($0.hostPort)/\($0.transport.rawValue)" }) {
            throw ContainerSpecError.conflict("--publish: host port \(dup) is published twice")
        }
        sysctls = try Self.checkSysctls(raw.sysctls, network: network)
        if userns == .remap {
            if privileged {
                throw ContainerSpecError.conflict("--privileged needs the host's user namespace; give --userns host, not --userns remap")
            }
            if network == .host {
                throw ContainerSpecError.conflict("--network host needs the host's user namespace; give --userns host, not --userns remap")
            }
        }
        capAdd = try raw.capAdd.map { try Capabilities.normalize($0, flag: "--cap-add") }
        capDrop = try raw.capDrop.map { try Capabilities.normalize($0, flag: "--cap-drop") }
        if let s = raw.stopSignal, !s.isEmpty { stopSignal = try Signal(parsing: s, flag: "--stop-signal") }
        if let size = raw.logMaxSize {
            guard size >= 4096, Int64(size) <= Self.maxLogSize else {
                throw ContainerSpecError.invalid(
                    flag: "--log-opt max-size", value: "\(size)", expected: "expected a number of bytes from 4096 (4k) to \(Self.maxLogSize) (1 TiB)")
            }
            logMaxSize = Int64(size)
        }
        if let files = raw.logMaxFiles {
            guard (1...1000).contains(files) else {
                throw ContainerSpecError.invalid(flag: "--log-opt max-file", value: "\(files)", expected: "expected 1 to 1000 files")
            }
            logMaxFiles = files
        }
    }

    /// IPC's kernel parameters, which a container's own IPC namespace holds.
    static let ipcSysctls: Set<String> = [
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ]

    /// Only parameters the container's own namespaces hold: the node's are not the container's to set.
    static func checkSysctls(_ sysctls: [String: String], network: NetworkMode) throws -> [String: String] {
        guard sysctls.count <= 64 else {
            throw ContainerSpecError.invalid(flag: "--sysctl", value: "\(sysctls.count) entries", expected: "give at most 64")
        }
        for key in sysctls.keys.sorted() {
            let value = sysctls[key] ?? ""
            let entry = "\(key)=\(value)"
            guard !key.isEmpty, key.count <= 128,
                key.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-/".unicodeScalars.contains($0)) }),
                !key.split(separator: "/").contains(".."), !key.split(separator: ".").contains("..")
            else {
                throw ContainerSpecError.invalid(flag: "--sysctl", value: entry, expected: "the name is not a kernel parameter such as net.ipv4.ip_forward")
            }
            guard value.count <= 256, value.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) else {
                throw ContainerSpecError.invalid(flag: "--sysctl", value: entry, expected: "the value must be printable ASCII of up to 256 characters")
            }
            if key.hasPrefix("net.") {
                guard network != .host else {
                    throw ContainerSpecError.invalid(
                        flag: "--sysctl", value: entry, expected: "net.* parameters are the node's with --network host; they can be set only in the container's own network")
                }
            } else if !(ipcSysctls.contains(key) || key.hasPrefix("fs.mqueue.") || key == "kernel.domainname") {
                throw ContainerSpecError.invalid(
                    flag: "--sysctl", value: entry,
                    expected: "not a namespaced parameter; a container may set net.*, fs.mqueue.*, kernel.domainname and IPC's kernel.msg*, kernel.sem, kernel.shm*")
            }
        }
        return sysctls
    }

    static func isValidHostname(_ h: String) -> Bool {
        guard h.count <= 63, let first = h.first, let last = h.last,
            first != "-", first != ".", last != "-", last != "."
        else { return false }
        return h.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".")
        }
    }

    private static func firstDuplicate(_ items: [String]) -> String? {
        var seen = Set<String>()
        for item in items where !seen.insert(item).inserted { return item }
        return nil
    }
}
