import Foundation
import PierAccess
import PierCluster
import PierStack

extension Manager {
    // MARK: Stacks

    /// Deploys a compose file as a stack: services it names are created or updated, services
    /// of the stack it no longer names are removed (as `docker stack deploy --prune`). Every
    /// service is checked first; if any is refused, nothing is changed.
    public func deployStack(_ name: String, _ request: StackDeployRequest, as caller: Caller = .local) async throws -> StackDeployResult {
        if let problem = StackDefinition.nameProblem(name) { throw ManagerError.invalid("stack name: \(problem)") }
        let stack: StackDefinition
        let warnings: [String]
        do {
            let compose = try ComposeFile.parse(yaml: request.compose, directory: request.directory ?? "/", environment: request.environment)
            stack = try StackDefinition(name: name, compose: compose)
            warnings = compose.warnings
        } catch {
            throw ManagerError.invalid("\(error)")
        }
        // Check and pin everything before the first write.
        var specs: [ServiceSpec] = []
        for var spec in stack.services {
            try Self.validate(spec)
            try Self.review(spec, caller: caller, replacing: service(named: spec.name)?.spec)
            spec.task.container.image = try await pin(spec.task.container.image)
            specs.append(spec)
        }
        var result = StackDeployResult(warnings: warnings)
        for warning in warnings { logger.warning("stack \(name): \(warning)") }
        var changes = ChangeSet()
        let existing = services.values.filter { $0.spec.labels[stackNamespaceLabel] == name }
        for spec in specs {
            if var current = service(named: spec.name) {
                guard current.spec.labels[stackNamespaceLabel] == name else {
                    throw ManagerError.conflict("service \(spec.name) exists and is not part of stack \(name); remove it or rename the stack")
                }
                if current.spec == spec { result.unchanged.append(spec.name); continue }
                let onlyScale = current.spec.task == spec.task
                current.previousSpec = current.spec
                current.spec = spec
                current.updatedAt = Date()
                if !onlyScale {
                    current.version += 1
                    current.updateStatus = nil
                }
                changes.services.append(current)
                result.updated.append(spec.name)
            } else {
                changes.services.append(Service(id: Identifiers.make(), spec: spec))
                result.created.append(spec.name)
            }
        }
        let kept = Set(specs.map(\.name))
        for old in existing where !kept.contains(old.spec.name) {
            changes.deletedServices.append(old.id)
            changes.deletedTasks += tasks.values.filter { $0.serviceID == old.id }.map(\.id)
        }
        try commit(changes)
        logger.info("stack \(name) deployed", metadata: ["created": "\(result.created)", "updated": "\(result.updated)"])
        return result
    }

    public func listStacks() -> [StackSummary] {
        var counts: [String: Int] = [:]
        for s in services.values { if let n = s.spec.labels[stackNamespaceLabel] { counts[n, default: 0] += 1 } }
        return counts.keys.sorted().map { StackSummary(name: $0, services: counts[$0] ?? 0) }
    }

    public func removeStack(_ name: String) async throws {
        let members = services.values.filter { $0.spec.labels[stackNamespaceLabel] == name }
        guard !members.isEmpty else { throw ManagerError.notFound("no such stack: \(name)") }
        var changes = ChangeSet()
        for s in members {
            changes.deletedServices.append(s.id)
            changes.deletedTasks += tasks.values.filter { $0.serviceID == s.id }.map(\.id)
        }
        try commit(changes)
    }
}
