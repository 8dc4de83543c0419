extension ServiceSpec {
    /// Checks what the scheduler and reconciler rely on: constraints, preferences, published
    /// ports, counts and ratios. `service create`/`update` call it before storing anything.
    public func validate() throws(ClusterSpecError) {
        guard !name.isEmpty else { throw .invalidField("name", reason: "is empty; give the service a name") }
        if case .replicated(let n) = mode, n < 0 {
            throw .invalidField("replicas", reason: "\(n) is negative")
        }
        _ = try Constraint.parse(task.placement.constraints)
        _ = try PlacementPreference.parse(task.placement.preferences)
        if let max = task.placement.maxReplicasPerNode, max < 0 {
            throw .invalidField("max-replicas-per-node", reason: "\(max) is negative")
        }
        for entry in task.container.publish { _ = try PortClaim.parse(entry) }
        for entry in task.container.devices where entry.isEmpty || !entry.hasPrefix("/") {
            throw .invalidField("device \"\(entry)\"", reason: "host path must be absolute (/dev/…)")
        }
        let r = task.reservations
        guard r.cpus >= 0, r.memoryBytes >= 0 else {
            throw .invalidField("reservations", reason: "cpus and memory must not be negative")
        }
        let p = task.restartPolicy
        guard p.delaySeconds >= 0 else { throw .invalidField("restart-delay", reason: "\(p.delaySeconds)s is negative") }
        if let n = p.maxAttempts, n < 0 { throw .invalidField("restart-max-attempts", reason: "\(n) is negative") }
        if let w = p.windowSeconds, w < 0 { throw .invalidField("restart-window", reason: "\(w)s is negative") }
        for (field, config) in [("update", update), ("rollback", rollback)] {
            guard config.parallelism >= 0 else { throw .invalidField("\(field)-parallelism", reason: "\(config.parallelism) is negative") }
            guard config.delaySeconds >= 0 else { throw .invalidField("\(field)-delay", reason: "\(config.delaySeconds)s is negative") }
            guard config.monitorSeconds >= 0 else { throw .invalidField("\(field)-monitor", reason: "\(config.monitorSeconds)s is negative") }
            guard (0...1).contains(config.maxFailureRatio) else {
                throw .invalidField("\(field)-max-failure-ratio", reason: "\(config.maxFailureRatio) is not between 0 and 1")
            }
        }
    }
}
