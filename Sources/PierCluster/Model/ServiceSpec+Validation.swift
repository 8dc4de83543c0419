import PierSpec

extension ServiceSpec {
    /// The most tasks one service may ask for, and per node.
    public static let maxReplicas = ContainerSpec.maxReplicas
    /// The longest delay, window or monitoring period a spec may name: a day. Longer ones would
    /// overflow the timers they become, and mean a typo.
    public static let maxSeconds: Double = 86_400
    /// The most network aliases one service may have.
    public static let maxAliases = 32

    /// Checks what the scheduler and reconciler rely on: constraints, preferences, published
    /// ports, counts, durations and ratios, each within an explicit range named in the error.
    /// `service create`/`update`/`scale` and stacks call it before storing anything.
    public func validate() throws(ClusterSpecError) {
        if let problem = ObjectName.problem(name, .label) {
            throw .invalidField("name \"\(name.prefix(80))\"", reason: problem)
        }
        guard aliases.count <= Self.maxAliases else {
            throw .invalidField("network-alias", reason: "\(aliases.count) aliases; at most \(Self.maxAliases)")
        }
        for alias in aliases {
            if let problem = ObjectName.problem(alias, .label) {
                throw .invalidField("network-alias \"\(alias.prefix(80))\"", reason: problem)
            }
        }
        do {
            try task.container.validate()
        } catch let error as ContainerSpecError {
            if case .outOfRange(let field, let message) = error { throw .invalidField(field, reason: message) }
            throw .invalidField("container", reason: error.description)
        } catch {
            throw .invalidField("container", reason: "\(error)")
        }
        if case .replicated(let n) = mode, !(0...Self.maxReplicas).contains(n) {
            throw .invalidField("replicas", reason: "\(n) is outside 0…\(Self.maxReplicas)")
        }
        func seconds(_ field: String, _ value: Double) throws(ClusterSpecError) {
            guard value.isFinite, (0...Self.maxSeconds).contains(value) else {
                throw .invalidField(field, reason: "\(value)s is outside 0…\(Int(Self.maxSeconds))s")
            }
        }
        func count(_ field: String, _ value: Int) throws(ClusterSpecError) {
            guard (0...Self.maxReplicas).contains(value) else {
                throw .invalidField(field, reason: "\(value) is outside 0…\(Self.maxReplicas)")
            }
        }
        _ = try Constraint.parse(task.placement.constraints)
        _ = try PlacementPreference.parse(task.placement.preferences)
        if let max = task.placement.maxReplicasPerNode { try count("max-replicas-per-node", max) }
        for entry in task.container.publish { _ = try PortClaim.parse(entry) }
        let r = task.reservations
        guard r.cpus.isFinite, r.cpus >= 0, r.cpus <= Double(CPULimit.maxCPUs), r.memoryBytes >= 0, r.memoryBytes <= 1 << 50 else {
            throw .invalidField(
                "reservations", reason: "cpus \(r.cpus) or memory \(r.memoryBytes) is outside 0…\(CPULimit.maxCPUs) CPUs and 0…1 PiB")
        }
        let p = task.restartPolicy
        try seconds("restart-delay", p.delaySeconds)
        if let n = p.maxAttempts { try count("restart-max-attempts", n) }
        if let w = p.windowSeconds { try seconds("restart-window", w) }
        for (field, config) in [("update", update), ("rollback", rollback)] {
            try count("\(field)-parallelism", config.parallelism)
            try seconds("\(field)-delay", config.delaySeconds)
            try seconds("\(field)-monitor", config.monitorSeconds)
            guard config.maxFailureRatio.isFinite, (0...1).contains(config.maxFailureRatio) else {
                throw .invalidField("\(field)-max-failure-ratio", reason: "\(config.maxFailureRatio) is not between 0 and 1")
            }
        }
    }
}
