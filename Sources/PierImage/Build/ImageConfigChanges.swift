/// Changes to the image config, applied in Docker's way on top of the base's config.
public struct ImageConfigChanges: Sendable, Hashable {
    /// Replaces the entrypoint; an entrypoint without a new cmd clears the base's cmd (as Docker does).
    public var entrypoint: [String]?
    public var cmd: [String]?
    /// `KEY`/`VALUE` pairs in order; a key that exists is replaced in place.
    public var env: [EnvironmentVariable]
    public var workingDir: String?
    public var user: String?
    public var labels: [String: String]
    /// `80`, `80/tcp`, `5683/udp`.
    public var exposedPorts: [String]
    public var stopSignal: String?
    public var volumes: [String]

    public init(entrypoint: [String]? = nil, cmd: [String]? = nil, env: [EnvironmentVariable] = [],
                workingDir: String? = nil, user: String? = nil, labels: [String: String] = [:],
                exposedPorts: [String] = [], stopSignal: String? = nil, volumes: [String] = []) {
        self.entrypoint = entrypoint; self.cmd = cmd; self.env = env; self.workingDir = workingDir
        self.user = user; self.labels = labels; self.exposedPorts = exposedPorts; self.stopSignal = stopSignal
        self.volumes = volumes
    }
}

/// One `KEY=VALUE` of an image's environment.
public struct EnvironmentVariable: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(_ key: String, _ value: String) { self.key = key; self.value = value }
}
