import Foundation

/// An image configuration (OCI image-spec v1.1, `config.md`), with Docker's `Healthcheck`.
/// Unknown fields of a read config are ignored; Pier keeps the original bytes where they matter.
public struct ImageConfig: Codable, Sendable, Hashable {
    /// RFC 3339 date-time, kept as written.
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?
    public var config: ContainerConfig?
    public var rootfs: RootFS
    public var history: [History]?

    enum CodingKeys: String, CodingKey {
        case created, author, architecture, os, variant, config, rootfs, history
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(created: String? = nil, author: String? = nil, architecture: String, os: String,
                variant: String? = nil, config: ContainerConfig? = nil, rootfs: RootFS, history: [History]? = nil) {
        self.created = created; self.author = author; self.architecture = architecture; self.os = os
        self.variant = variant; self.config = config; self.rootfs = rootfs; self.history = history
    }

    /// The platform the config names.
    public var platform: Platform { Platform(os: os, architecture: architecture, variant: variant) }

    /// `created` parsed, when it is a valid RFC 3339 date.
    public var createdDate: Date? {
        guard let created else { return nil }
        return ImageConfig.parseDate(created)
    }

    /// Parses RFC 3339 dates with or without fractional seconds.
    public static func parseDate(_ string: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let d = plain.date(from: string) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = fractional.date(from: string) { return d }
        // Go writes up to nine fractional digits; Foundation reads at most three.
        if let dot = string.firstIndex(of: "."),
           let end = string[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            let digits = string[string.index(after: dot)..<end]
            let trimmed = string[..<dot] + "." + digits.prefix(3) + string[end...]
            return fractional.date(from: String(trimmed))
        }
        return nil
    }

    /// Decodes a config, refusing anything that is not an image config. `digest` names the blob in errors.
    public static func decode(_ data: Data, digest: Digest? = nil) throws(ImageSpecError) -> ImageConfig {
        let config: ImageConfig = try SpecJSON.decode(data, what: "image config", digest: digest)
        guard config.rootfs.type == "layers" else {
            throw .invalidJSON(what: "image config", digest: digest, reason: "rootfs.type is \"\(config.rootfs.type)\", not \"layers\"")
        }
        return config
    }

    /// The config as canonical JSON.
    public func encoded() throws -> Data { try SpecJSON.encode(self) }
}

/// The `config` object of an image config: how to run a container from it.
public struct ContainerConfig: Codable, Sendable, Hashable {
    public var user: String?
    public var exposedPorts: [String: EmptyObject]?
    public var env: [String]?
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var volumes: [String: EmptyObject]?
    public var workingDir: String?
    public var labels: [String: String]?
    public var stopSignal: String?
    public var argsEscaped: Bool?
    /// Docker's health check; not part of OCI but written by Docker and buildah.
    public var healthcheck: HealthcheckConfig?

    enum CodingKeys: String, CodingKey {
        case user = "User", exposedPorts = "ExposedPorts", env = "Env", entrypoint = "Entrypoint"
        case cmd = "Cmd", volumes = "Volumes", workingDir = "WorkingDir", labels = "Labels"
        case stopSignal = "StopSignal", argsEscaped = "ArgsEscaped", healthcheck = "Healthcheck"
    }

    public init(user: String? = nil, exposedPorts: [String: EmptyObject]? = nil, env: [String]? = nil,
                entrypoint: [String]? = nil, cmd: [String]? = nil, volumes: [String: EmptyObject]? = nil,
                workingDir: String? = nil, labels: [String: String]? = nil, stopSignal: String? = nil,
                healthcheck: HealthcheckConfig? = nil) {
        self.user = user; self.exposedPorts = exposedPorts; self.env = env; self.entrypoint = entrypoint
        self.cmd = cmd; self.volumes = volumes; self.workingDir = workingDir; self.labels = labels
        self.stopSignal = stopSignal; self.healthcheck = healthcheck
    }
}

/// Docker's `Healthcheck` in an image config. Durations are nanoseconds.
public struct HealthcheckConfig: Codable, Sendable, Hashable {
    /// `["NONE"]`, `["CMD", args...]` or `["CMD-SHELL", command]`.
    public var test: [String]?
    public var interval: Int64?
    public var timeout: Int64?
    public var startPeriod: Int64?
    public var startInterval: Int64?
    public var retries: Int?

    enum CodingKeys: String, CodingKey {
        case test = "Test", interval = "Interval", timeout = "Timeout", startPeriod = "StartPeriod"
        case startInterval = "StartInterval", retries = "Retries"
    }

    public init(test: [String]? = nil, interval: Int64? = nil, timeout: Int64? = nil, startPeriod: Int64? = nil,
                startInterval: Int64? = nil, retries: Int? = nil) {
        self.test = test; self.interval = interval; self.timeout = timeout; self.startPeriod = startPeriod
        self.startInterval = startInterval; self.retries = retries
    }
}

/// `rootfs` of an image config: the diff ids of the layers, bottom-most first.
public struct RootFS: Codable, Sendable, Hashable {
    public var type: String
    public var diffIDs: [Digest]

    enum CodingKeys: String, CodingKey {
        case type
        case diffIDs = "diff_ids"
    }

    public init(type: String = "layers", diffIDs: [Digest]) { self.type = type; self.diffIDs = diffIDs }
}

/// One `history` entry of an image config.
public struct History: Codable, Sendable, Hashable {
    public var created: String?
    public var createdBy: String?
    public var author: String?
    public var comment: String?
    public var emptyLayer: Bool?

    enum CodingKeys: String, CodingKey {
        case created, author, comment
        case createdBy = "created_by"
        case emptyLayer = "empty_layer"
    }

    public init(created: String? = nil, createdBy: String? = nil, author: String? = nil, comment: String? = nil,
                emptyLayer: Bool? = nil) {
        self.created = created; self.createdBy = createdBy; self.author = author; self.comment = comment
        self.emptyLayer = emptyLayer
    }
}

/// `{}`: the value type of `ExposedPorts` and `Volumes`.
public struct EmptyObject: Codable, Sendable, Hashable {
    public init() {}
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: NoKeys.self) }
    public func encode(to encoder: Encoder) throws { _ = encoder.container(keyedBy: NoKeys.self) }
    private enum NoKeys: CodingKey {}
}
