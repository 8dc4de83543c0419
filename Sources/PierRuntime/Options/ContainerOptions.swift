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
    public var devices: [DeviceMapping]
    public var memory: MemorySize?
    public var cpus: CPULimit?
    public var pidsLimit: Int64?
    public var network: NetworkMode
    public var ports: [PortMapping]
    /// Normalized names (`CAP_NET_ADMIN`, or `ALL`).
    public var capAdd: [String]
    public var capDrop: [String]
    public var stopSignal: Signal?
    public var logMaxSize: Int64?
    public var logMaxFiles: Int?

    /// Options with every default: no limits, bridge network, Docker's capabilities.
    public init(
        entrypoint: [String]? = nil, command: [String] = [], env: [String] = [], workdir: String? = nil,
        user: UserSpec? = nil, hostname: String? = nil, readOnly: Bool = false, volumes: [BindMount] = [],
        devices: [DeviceMapping] = [], memory: MemorySize? = nil, cpus: CPULimit? = nil, pidsLimit: Int64? = nil,
        network: NetworkMode = .bridge, ports: [PortMapping] = [], capAdd: [String] = [], capDrop: [String] = [],
        stopSignal: Signal? = nil, logMaxSize: Int64? = nil, logMaxFiles: Int? = nil
    ) {
        self.entrypoint = entrypoint; self.command = command; self.env = env; self.workdir = workdir
        self.user = user; self.hostname = hostname; self.readOnly = readOnly; self.volumes = volumes
        self.devices = devices; self.memory = memory; self.cpus = cpus; self.pidsLimit = pidsLimit
        self.network = network; self.ports = ports; self.capAdd = capAdd; self.capDrop = capDrop
        self.stopSignal = stopSignal; self.logMaxSize = logMaxSize; self.logMaxFiles = logMaxFiles
    }

    /// Validates every option; the first bad one is thrown as a `RuntimeOptionError` naming its flag.
    public init(parsing raw: RawContainerOptions) throws {
        self.init()
        entrypoint = raw.entrypoint
        command = raw.command
        for entry in raw.env {
            guard let eq = entry.firstIndex(of: "="), eq != entry.startIndex, !entry.contains("\0") else {
                throw RuntimeOptionError.invalid(flag: "--env", value: entry, expected: "expected KEY=VALUE with a non-empty KEY")
            }
        }
        env = raw.env
        if let w = raw.workdir, !w.isEmpty {
            guard w.hasPrefix("/") else {
                throw RuntimeOptionError.invalid(flag: "--workdir", value: w, expected: "the working directory must be an absolute path")
            }
            workdir = w
        }
        if let u = raw.user, !u.isEmpty { user = try UserSpec(parsing: u) }
        if let h = raw.hostname, !h.isEmpty {
            guard Self.isValidHostname(h) else {
                throw RuntimeOptionError.invalid(
                    flag: "--hostname", value: h,
                    expected: "use up to 63 letters, digits, '-' and '.', not starting or ending with '-' or '.'")
            }
            hostname = h
        }
        readOnly = raw.readOnly
        volumes = try raw.volumes.map { try BindMount(parsing: $0) }
        if let dup = Self.firstDuplicate(volumes.map(\.destination)) {
            throw RuntimeOptionError.conflict("--volume: \(dup) is the target of two volumes; give each container path once")
        }
        devices = try raw.devices.map { try DeviceMapping(parsing: $0) }
        if let dup = Self.firstDuplicate(devices.map(\.containerPath)) {
            throw RuntimeOptionError.conflict("--device: \(dup) is the target of two devices; give each container path once")
        }
        if let m = raw.memory, !m.isEmpty {
            let size = try MemorySize(parsing: m, flag: "--memory")
            guard size >= MemorySize.minimumLimit else {
                throw RuntimeOptionError.invalid(flag: "--memory", value: m, expected: "the minimum memory limit is 6m (6 MiB)")
            }
            memory = size
        }
        if let c = raw.cpus { cpus = try CPULimit(cpus: c) }
        if let p = raw.pidsLimit {
            guard p >= -1 else {
                throw RuntimeOptionError.invalid(
                    flag: "--pids-limit", value: "\(p)", expected: "expected a positive number, or 0 or -1 for no limit")
            }
            pidsLimit = p > 0 ? Int64(p) : nil
        }
        network = try NetworkMode(parsing: raw.network)
        ports = try raw.publish.map { try PortMapping(parsing: $0) }
        if !ports.isEmpty && network != .bridge {
            throw RuntimeOptionError.conflict(
                "--publish needs --network bridge (the container's ports are already the node's with host, and unreachable with none)")
        }
        if let dup = Self.firstDuplicate(ports.map { "\($0.hostIP ?? "0.0.0.0"):\($0.hostPort)/\($0.transport.rawValue)" }) {
            throw RuntimeOptionError.conflict("--publish: host port \(dup) is published twice")
        }
        capAdd = try raw.capAdd.map { try Capabilities.normalize($0, flag: "--cap-add") }
        capDrop = try raw.capDrop.map { try Capabilities.normalize($0, flag: "--cap-drop") }
        if let s = raw.stopSignal, !s.isEmpty { stopSignal = try Signal(parsing: s, flag: "--stop-signal") }
        if let size = raw.logMaxSize {
            guard size > 0 else {
                throw RuntimeOptionError.invalid(
                    flag: "--log-opt max-size", value: "\(size)", expected: "expected a positive number of bytes")
            }
            logMaxSize = Int64(size)
        }
        if let files = raw.logMaxFiles {
            guard files >= 1 else {
                throw RuntimeOptionError.invalid(flag: "--log-opt max-file", value: "\(files)", expected: "expected at least 1")
            }
            logMaxFiles = files
        }
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
