import PierSpec
import Foundation
import PierAPI

/// The flags of `pier run` as the user typed them, before they become a ``ContainerSpec``.
/// `pier run` fills this from its command line; the translation is here so it can be tested.
public struct RunOptions: Sendable, Equatable {
    public var detach = false
    public var autoRemove = false
    public var name: String?
    /// `-e KEY=VALUE` or `-e KEY` (value from the client's environment).
    public var env: [String] = []
    public var envFiles: [String] = []
    public var workdir: String?
    public var user: String?
    public var hostname: String?
    public var readOnly = false
    public var volumes: [String] = []
    public var devices: [String] = []
    public var memory: String?
    public var cpus: Double?
    public var pidsLimit: Int?
    public var network: String?
    public var publish: [String] = []
    public var restart: String?
    public var healthCmd: String?
    public var healthInterval: String?
    public var healthTimeout: String?
    public var healthRetries: Int?
    public var healthStartPeriod: String?
    /// `-l KEY=VALUE` (a bare `KEY` gets an empty value).
    public var labels: [String] = []
    public var capAdd: [String] = []
    public var capDrop: [String] = []
    /// One executable, not split on spaces; `""` clears the image's entrypoint.
    public var entrypoint: String?
    public var stopSignal: String?
    /// `--log-opt max-size=10m`, `--log-opt max-file=3`.
    public var logOpts: [String] = []
    public var privileged = false
    /// `--security-opt seccomp=PROFILE.json` is sent with the file's JSON in place of its path.
    public var securityOpts: [String] = []
    public var tmpfs: [String] = []
    public var mounts: [String] = []
    public var ulimits: [String] = []
    public var shmSize: String?
    /// `--sysctl KEY=VALUE`.
    public var sysctls: [String] = []
    public var initProcess = false
    /// `host` or `remap`; nil: the node's default.
    public var userns: String?
    public var image: String
    /// Everything after the image: the container's command and its arguments.
    public var command: [String] = []

    public init(image: String, command: [String] = []) {
        self.image = image; self.command = command
    }

    /// The request `pier run` sends. `readFile` reads `--env-file`s; `environment` resolves bare `-e KEY`s.
    public func makeRequest(
        environment: [String: String], readFile: (String) throws -> String
    ) throws(ClientError) -> ContainerSpec {
        var request = ContainerSpec(image: image)
        guard !image.isEmpty else { throw .invalidArgument("an image is required: pier run [OPTIONS] IMAGE [COMMAND] [ARG...]") }
        request.name = name
        request.command = command
        request.entrypoint = entrypoint.map { $0.isEmpty ? [] : [$0] }
        request.env = try resolvedEnvironment(environment: environment, readFile: readFile)
        request.workdir = workdir
        request.user = user
        request.hostname = hostname
        request.readOnly = readOnly
        request.volumes = volumes
        request.devices = devices
        request.memory = memory
        request.cpus = cpus
        request.pidsLimit = pidsLimit
        request.network = network
        request.publish = publish
        request.restart = restart
        request.health = try healthCheck()
        request.labels = try parsedLabels()
        request.capAdd = capAdd
        request.capDrop = capDrop
        request.autoRemove = autoRemove
        request.stopSignal = stopSignal
        (request.logMaxSize, request.logMaxFiles) = try parsedLogOptions()
        request.privileged = privileged
        request.securityOpt = try Self.securityOptions(securityOpts, readFile: readFile)
        request.tmpfs = tmpfs
        request.mounts = mounts
        request.ulimits = ulimits
        request.shmSize = shmSize
        request.sysctls = try Self.sysctls(sysctls)
        request.initProcess = initProcess
        request.userns = userns
        // The model's checks, the same the agent makes: a bad value fails here, before any request.
        do { try request.validate() } catch { throw .invalidArgument("\(error)") }
        return request
    }

    /// `seccomp=PATH` becomes `seccomp=<the file's JSON>`, as Docker's client sends it: the
    /// profile is the client's file, and the agent checks it.
    public static func securityOptions(_ entries: [String], readFile: (String) throws -> String) throws(ClientError) -> [String] {
        try entries.map { entry throws(ClientError) -> String in
            guard entry.hasPrefix("seccomp=") || entry.hasPrefix("seccomp:") else { return entry }
            let value = String(entry.dropFirst("seccomp=".count))
            guard !value.isEmpty, value != "unconfined", value.first != "{" else { return entry }
            do {
                return "seccomp=" + (try readFile(value))
            } catch {
                throw .file(path: value, reason: "cannot read the seccomp profile of --security-opt: \(error)")
            }
        }
    }

    /// `KEY=VALUE` entries of `--sysctl`, each key once.
    public static func sysctls(_ entries: [String], flag: String = "--sysctl") throws(ClientError) -> [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw .invalidArgument("\(flag) \"\(entry)\": write KEY=VALUE, e.g. net.ipv4.ip_forward=1")
            }
            guard result.updateValue(String(parts[1]), forKey: String(parts[0])) == nil else {
                throw .invalidArgument("\(flag) \(parts[0]) is given twice; give it once")
            }
        }
        return result
    }

    func resolvedEnvironment(environment: [String: String], readFile: (String) throws -> String) throws(ClientError) -> [String] {
        var entries: [String] = []
        for path in envFiles {
            let text: String
            do {
                text = try readFile(path)
            } catch {
                throw .file(path: path, reason: "cannot read the --env-file: \(error)")
            }
            entries += try EnvFile.parse(text, path: path, environment: environment)
        }
        for entry in env {
            if let resolved = try EnvFile.resolve(entry, environment: environment, origin: "-e") { entries.append(resolved) }
        }
        return entries
    }

    func parsedLabels() throws(ClientError) -> [String: String] {
        var labels: [String: String] = [:]
        for entry in self.labels {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard !key.isEmpty else { throw .invalidArgument("--label \"\(entry)\": the key is empty; write KEY=VALUE") }
            labels[key] = parts.count > 1 ? String(parts[1]) : ""
        }
        return labels
    }

    func healthCheck() throws(ClientError) -> HealthCheckConfig? {
        guard let healthCmd else {
            let stray = [("--health-interval", healthInterval), ("--health-timeout", healthTimeout),
                         ("--health-start-period", healthStartPeriod), ("--health-retries", healthRetries.map(String.init))]
                .first { $0.1 != nil }
            if let stray { throw .invalidArgument("\(stray.0) needs --health-cmd: give the command that checks the container") }
            return nil
        }
        guard !healthCmd.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .invalidArgument("--health-cmd is empty: give the command that checks the container, e.g. --health-cmd 'wget -q -O- localhost'")
        }
        var check = HealthCheckConfig(command: [healthCmd])
        if let text = healthInterval { check.intervalSeconds = try Self.duration(text, flag: "--health-interval", allowZero: false) }
        if let text = healthTimeout { check.timeoutSeconds = try Self.duration(text, flag: "--health-timeout", allowZero: false) }
        if let text = healthStartPeriod { check.startPeriodSeconds = try Self.duration(text, flag: "--health-start-period", allowZero: true) }
        if let healthRetries {
            guard healthRetries >= 1 else { throw .invalidArgument("--health-retries \(healthRetries): give 1 or more") }
            check.retries = healthRetries
        }
        return check
    }

    static func duration(_ text: String, flag: String, allowZero: Bool) throws(ClientError) -> Double {
        guard let seconds = GoDuration.seconds(text) else {
            throw .invalidArgument("\(flag) \"\(text)\" is not a duration; write e.g. 30s, 1m30s or 500ms")
        }
        guard seconds > 0 || (allowZero && seconds == 0) else {
            throw .invalidArgument("\(flag) \"\(text)\" must be \(allowZero ? "zero or more" : "more than zero")")
        }
        return seconds
    }

    func parsedLogOptions() throws(ClientError) -> (maxSize: Int?, maxFiles: Int?) {
        var maxSize: Int?
        var maxFiles: Int?
        for option in logOpts {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw .invalidArgument("--log-opt \"\(option)\": write KEY=VALUE, e.g. max-size=10m") }
            let value = String(parts[1])
            switch parts[0] {
            case "max-size":
                guard let bytes = MemorySize.parse(value), bytes > 0, bytes <= Int64(Int.max) else {
                    throw .invalidArgument("--log-opt max-size=\(value): give a size such as 10m, 512k or 1g")
                }
                maxSize = Int(bytes)
            case "max-file":
                guard let files = Int(value), files >= 1 else {
                    throw .invalidArgument("--log-opt max-file=\(value): give a number of files, 1 or more")
                }
                maxFiles = files
            default:
                throw .invalidArgument("--log-opt \"\(parts[0])\" is not supported; pier's log options are max-size and max-file")
            }
        }
        return (maxSize, maxFiles)
    }
}
