import PierSpec
import PierAPI
import PierCluster

/// The flags of `pier service create` as typed, before they become a ``ServiceSpec``.
/// The command fills this from its command line; the translation is here so it can be tested.
public struct ServiceCreateOptions: Sendable, Equatable {
    /// Default: the image's name and a random suffix (`sensor-k3x9q2`).
    public var name: String?
    /// `replicated` (default) or `global`.
    public var mode: String?
    public var settings = ServiceSettings()
    /// `-e KEY=VALUE` or `-e KEY` (value from the client's environment).
    public var env: [String] = []
    public var envFiles: [String] = []
    public var volumes: [String] = []
    public var devices: [String] = []
    public var publish: [String] = []
    public var constraints: [String] = []
    public var placementPreferences: [String] = []
    /// Service labels, `KEY=VALUE`.
    public var labels: [String] = []
    /// Labels on each task's container, `KEY=VALUE`.
    public var containerLabels: [String] = []
    public var privileged = false
    /// As `pier run`'s: a `seccomp=` profile path is sent as the file's JSON.
    public var securityOpts: [String] = []
    public var tmpfs: [String] = []
    public var mounts: [String] = []
    public var ulimits: [String] = []
    /// `KEY=VALUE`.
    public var sysctls: [String] = []
    public var initProcess = false
    /// `host` or `remap`; nil: each node's default.
    public var userns: String?
    public var image: String
    /// Everything after the image: the tasks' command and its arguments.
    public var command: [String] = []

    public init(image: String, command: [String] = []) {
        self.image = image; self.command = command
    }

    /// The spec `pier service create` sends. `readFile` reads `--env-file`s; `environment` resolves
    /// bare `-e KEY`s; `suffix` makes the random part of a default name.
    public func makeSpec(
        environment: [String: String], readFile: (String) throws -> String,
        suffix: () -> String = { ServiceCreateOptions.randomSuffix() }
    ) throws(ClientError) -> ServiceSpec {
        guard !image.isEmpty else {
            throw .invalidArgument("an image is required: pier service create [OPTIONS] IMAGE [COMMAND] [ARG...]")
        }
        let serviceMode: ServiceMode
        switch mode ?? "replicated" {
        case "replicated": serviceMode = .replicated(1)
        case "global":
            if let replicas = settings.replicas {
                throw .invalidArgument("--replicas \(replicas) cannot be used with --mode global (one task on every eligible node)")
            }
            serviceMode = .global
        case let other: throw .invalidArgument("--mode \"\(other)\": use replicated or global")
        }
        if let name, name.isEmpty { throw .invalidArgument("--name is empty: give the service a name, or leave --name out") }

        var run = RunOptions(image: image, command: command)
        run.env = env
        run.envFiles = envFiles
        var container = ContainerSpec(image: image, command: command)
        container.env = try run.resolvedEnvironment(environment: environment, readFile: readFile)
        container.volumes = try volumes.map { v throws(ClientError) in try ServiceFlagValues.volume(v, flag: "--volume") }
        container.devices = try devices.map { d throws(ClientError) in try ServiceFlagValues.device(d, flag: "--device") }
        container.publish = try publish.map { p throws(ClientError) in try ServiceFlagValues.publish(p, flag: "--publish") }
        container.labels = try ServiceFlagValues.labels(containerLabels, flag: "--container-label")
        container.privileged = privileged
        container.securityOpt = try RunOptions.securityOptions(securityOpts, readFile: readFile)
        container.tmpfs = tmpfs
        container.mounts = mounts
        container.ulimits = ulimits
        container.sysctls = try RunOptions.sysctls(sysctls)
        container.initProcess = initProcess
        container.userns = userns
        let placement = Placement(
            constraints: try constraints.map { c throws(ClientError) in try ServiceFlagValues.constraint(c, flag: "--constraint") },
            preferences: try placementPreferences.map { p throws(ClientError) in
                try ServiceFlagValues.placementPreference(p, flag: "--placement-pref")
            })
        var spec = ServiceSpec(
            name: name ?? Self.defaultName(image: image, suffix: suffix()),
            labels: try ServiceFlagValues.labels(labels, flag: "--label"),
            task: TaskTemplate(container: container, placement: placement),
            mode: serviceMode)
        try settings.apply(to: &spec)
        // The manager's checks, made before the request is sent.
        do { try spec.validate() } catch { throw .invalidArgument("\(error)") }
        return spec
    }

    /// `registry:5000/acme/sensor:1.2` → `sensor-SUFFIX`: the last path component, without tag or
    /// digest, reduced to the letters, digits, `-` and `_` a service name may have.
    public static func defaultName(image: String, suffix: String) -> String {
        var base = Substring(image)
        if let at = base.firstIndex(of: "@") { base = base[..<at] }
        if let slash = base.lastIndex(of: "/") { base = base[base.index(after: slash)...] }
        if let colon = base.firstIndex(of: ":") { base = base[..<colon] }
        var cleaned = String(base.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" })
        while let first = cleaned.first, !(first.isLetter || first.isNumber) { cleaned.removeFirst() }
        cleaned = String(cleaned.prefix(50))
        while let last = cleaned.last, !(last.isLetter || last.isNumber) { cleaned.removeLast() }
        return cleaned.isEmpty ? "service-\(suffix)" : "\(cleaned)-\(suffix)"
    }

    /// Six lowercase letters and digits.
    public static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<6).map { _ in alphabet.randomElement() ?? "x" })
    }
}
