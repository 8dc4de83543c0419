import PierSpec
import PierAPI
import PierCluster

/// The single-valued flags `pier service create` and `pier service update` share, as typed;
/// nil means not given. ``apply(to:)`` changes only what was given, so create applies them to a
/// fresh spec and update to the service's current one. Errors name the flag and its value.
public struct ServiceSettings: Sendable, Equatable {
    public var replicas: Int?
    public var workdir: String?
    public var user: String?
    public var hostname: String?
    public var readOnly: Bool?
    /// `bridge`, `host` or `none`.
    public var network: String?
    /// One executable, not split on spaces; `""` clears the image's entrypoint (as `pier run`).
    public var entrypoint: String?

    /// `64m`, `1g`; `0` removes the limit.
    public var limitMemory: String?
    /// CPUs, e.g. `0.5`; `0` removes the limit.
    public var limitCPU: Double?
    /// `0` removes the limit (the node's default limit no longer applies either).
    public var limitPids: Int?
    /// What the scheduler counts against a node's memory.
    public var reserveMemory: String?
    public var reserveCPU: Double?
    /// `0` removes the cap.
    public var maxReplicasPerNode: Int?

    /// `none`, `on-failure` or `any`.
    public var restartCondition: String?
    public var restartDelay: String?
    /// `0` is no limit, as in Swarm.
    public var restartMaxAttempts: Int?
    /// A duration; `0` counts attempts for ever.
    public var restartWindow: String?

    public var update = UpdateConfigFlags()
    public var rollback = UpdateConfigFlags()

    public var healthCmd: String?
    public var healthInterval: String?
    public var healthTimeout: String?
    public var healthRetries: Int?
    public var healthStartPeriod: String?
    /// Removes the service's health check.
    public var noHealthcheck = false

    /// `vip` or `dnsrr` (both served as DNS round robin).
    public var endpointMode: String?
    /// Further names of the service; they replace the current ones, and `[""]` removes them all.
    public var networkAliases: [String]?

    public init() {}

    /// Applies the given flags to `spec`.
    public func apply(to spec: inout ServiceSpec) throws(ClientError) {
        if let replicas {
            guard replicas >= 0 else { throw .invalidArgument("--replicas \(replicas): give 0 or more tasks") }
            guard case .replicated = spec.mode else {
                throw .invalidArgument("--replicas \(replicas): service \(spec.name) is global (one task per node); only replicated services have a replica count")
            }
            spec.mode = .replicated(replicas)
        }
        var container = spec.task.container
        if let workdir { container.workdir = workdir.isEmpty ? nil : workdir }
        if let user { container.user = user.isEmpty ? nil : user }
        if let hostname { container.hostname = hostname.isEmpty ? nil : hostname }
        if let readOnly { container.readOnly = readOnly }
        if let network {
            guard ["bridge", "host", "none"].contains(network) else {
                throw .invalidArgument("--network \"\(network)\": use bridge, host or none")
            }
            container.network = network
        }
        if let entrypoint { container.entrypoint = entrypoint.isEmpty ? [] : [entrypoint] }
        if let limitMemory {
            guard let bytes = MemorySize.parse(limitMemory) else {
                throw .invalidArgument("--limit-memory \"\(limitMemory)\": give a size such as 64m or 1g (0 for no limit)")
            }
            container.memory = bytes == 0 ? nil : limitMemory
        }
        if let limitCPU {
            guard limitCPU >= 0, limitCPU.isFinite else { throw .invalidArgument("--limit-cpu \(limitCPU): give a positive number of CPUs, e.g. 0.5 (0 for no limit)") }
            container.cpus = limitCPU == 0 ? nil : limitCPU
        }
        if let limitPids {
            guard limitPids >= 0 else { throw .invalidArgument("--limit-pids \(limitPids): give a positive number of processes (0 for no limit)") }
            container.pidsLimit = limitPids == 0 ? -1 : limitPids
        }
        container.health = try health(container.health)
        spec.task.container = container

        if let reserveMemory {
            guard let bytes = MemorySize.parse(reserveMemory) else {
                throw .invalidArgument("--reserve-memory \"\(reserveMemory)\": give a size such as 64m or 1g")
            }
            spec.task.reservations.memoryBytes = bytes
        }
        if let reserveCPU {
            guard reserveCPU >= 0, reserveCPU.isFinite else { throw .invalidArgument("--reserve-cpu \(reserveCPU): give 0 or more CPUs, e.g. 0.25") }
            spec.task.reservations.cpus = reserveCPU
        }
        if let maxReplicasPerNode {
            guard maxReplicasPerNode >= 0 else {
                throw .invalidArgument("--max-replicas-per-node \(maxReplicasPerNode): give 1 or more (0 for no limit)")
            }
            spec.task.placement.maxReplicasPerNode = maxReplicasPerNode == 0 ? nil : maxReplicasPerNode
        }
        try applyRestart(to: &spec.task.restartPolicy)
        if let endpointMode {
            guard let mode = EndpointMode(rawValue: endpointMode) else {
                throw .invalidArgument("--endpoint-mode \"\(endpointMode)\": use vip or dnsrr (both are served as DNS round robin)")
            }
            spec.endpointMode = mode
        }
        if let networkAliases {
            var aliases: [String] = []
            for alias in networkAliases where !alias.isEmpty {
                if let problem = ObjectName.problem(alias, .label) { throw .invalidArgument("--network-alias \"\(alias.prefix(80))\": \(problem)") }
                if !aliases.contains(alias) { aliases.append(alias) }
            }
            spec.aliases = aliases
        }
        try update.apply(to: &spec.update, family: .update)
        try rollback.apply(to: &spec.rollback, family: .rollback)
    }

    func applyRestart(to policy: inout RestartPolicy) throws(ClientError) {
        if let restartCondition {
            guard let condition = RestartPolicy.Condition(rawValue: restartCondition) else {
                throw .invalidArgument("--restart-condition \"\(restartCondition)\": use none, on-failure or any")
            }
            policy.condition = condition
        }
        if let restartDelay { policy.delaySeconds = try RunOptions.duration(restartDelay, flag: "--restart-delay", allowZero: true) }
        if let restartMaxAttempts {
            guard restartMaxAttempts >= 0 else {
                throw .invalidArgument("--restart-max-attempts \(restartMaxAttempts): give 0 (no limit) or more")
            }
            policy.maxAttempts = restartMaxAttempts == 0 ? nil : restartMaxAttempts
        }
        if let restartWindow {
            let seconds = try RunOptions.duration(restartWindow, flag: "--restart-window", allowZero: true)
            policy.windowSeconds = seconds == 0 ? nil : seconds
        }
    }

    /// The health check after the `--health-*` flags: a new one needs `--health-cmd`; an existing
    /// one keeps what is not given.
    func health(_ current: HealthCheckConfig?) throws(ClientError) -> HealthCheckConfig? {
        let given: [(String, String?)] = [
            ("--health-cmd", healthCmd), ("--health-interval", healthInterval), ("--health-timeout", healthTimeout),
            ("--health-retries", healthRetries.map(String.init)), ("--health-start-period", healthStartPeriod),
        ]
        let firstGiven = given.first { $0.1 != nil }?.0
        if noHealthcheck {
            if let firstGiven { throw .invalidArgument("--no-healthcheck and \(firstGiven) contradict each other; give one of them") }
            return nil
        }
        guard let firstGiven else { return current }
        var check: HealthCheckConfig
        if let healthCmd {
            guard !healthCmd.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw .invalidArgument("--health-cmd is empty: give the command that checks the container, e.g. --health-cmd 'wget -q -O- localhost'")
            }
            check = current ?? HealthCheckConfig(command: [])
            check.command = [healthCmd]
        } else if let current {
            check = current
        } else {
            throw .invalidArgument("\(firstGiven) needs --health-cmd: the service has no health check yet; give the command that checks the container")
        }
        if let text = healthInterval { check.intervalSeconds = try RunOptions.duration(text, flag: "--health-interval", allowZero: false) }
        if let text = healthTimeout { check.timeoutSeconds = try RunOptions.duration(text, flag: "--health-timeout", allowZero: false) }
        if let text = healthStartPeriod { check.startPeriodSeconds = try RunOptions.duration(text, flag: "--health-start-period", allowZero: true) }
        if let healthRetries {
            guard healthRetries >= 1 else { throw .invalidArgument("--health-retries \(healthRetries): give 1 or more") }
            check.retries = healthRetries
        }
        return check
    }
}
