import PierCluster
import PierCoAPAPI

/// The manager's services for the CoAP interface (CEMC): cluster services, scheduled across the
/// nodes. A service activated over CoAP carries the label `pier.coap.client=NAME`.
struct ManagerConstrainedBackend: ConstrainedBackend {
    let manager: Manager

    var role: String { "manager" }

    func list() async throws -> [ConstrainedServiceStatus] {
        let tasks = await manager.runningTaskCounts()
        return await manager.listServices().map { Self.status($0, running: tasks[$0.id] ?? 0) }
    }

    func status(_ name: String) async throws -> ConstrainedServiceStatus {
        let service = try await manager.lookupService(name)
        return Self.status(service, running: await manager.runningTaskCounts()[service.id] ?? 0)
    }

    static func status(_ s: Service, running: Int) -> ConstrainedServiceStatus {
        let desired: Int
        switch s.spec.mode {
        case .replicated(let n): desired = n
        case .global: desired = max(running, 1)
        }
        let state = desired == 0 ? (running > 0 ? "stopping" : "stopped") : running >= desired ? "running" : "pending"
        return ConstrainedServiceStatus(name: s.spec.name, image: s.spec.task.container.image, state: state, running: running, desired: desired)
    }

    func activate(_ name: String, _ request: ActivationRequest, client: String) async throws -> Bool {
        var spec = ServiceSpec(
            name: name, labels: ["pier.coap.client": client],
            task: TaskTemplate(container: request.container, placement: Placement(constraints: request.constraints)),
            mode: request.global ? .global : .replicated(request.replicas ?? 1))
        spec.task.container.name = nil
        if let existing = try? await manager.lookupService(name) {
            // Keep what the request does not say (update and rollback settings, other labels).
            spec.labels = existing.spec.labels.merging(spec.labels) { _, new in new }
            spec.update = existing.spec.update
            spec.rollback = existing.spec.rollback
            spec.task.reservations = existing.spec.task.reservations
            spec.task.restartPolicy = existing.spec.task.restartPolicy
            _ = try await manager.updateService(existing.id, spec: spec)
            return false
        }
        _ = try await manager.createService(spec)
        return true
    }

    func stop(_ name: String) async throws { _ = try await manager.scaleService(name, replicas: 0) }

    func start(_ name: String) async throws {
        let service = try await manager.lookupService(name)
        guard case .replicated(0) = service.spec.mode else { return }
        var replicas = 1
        if case .replicated(let n)? = service.previousSpec?.mode, n > 0 { replicas = n }
        _ = try await manager.scaleService(service.id, replicas: replicas)
    }

    func remove(_ name: String) async throws { try await manager.removeService(name) }

    func onChange(_ changed: @escaping @Sendable () -> Void) async { await manager.onChange(changed) }

    func translate(_ error: any Error) -> ConstrainedAPIError {
        guard let e = error as? ManagerError else { return .failed("\(error)") }
        switch e {
        case .invalid(let m), .unauthorized(let m), .tooLarge(let m): return .invalid(m)
        case .notFound(let m): return .notFound(m)
        case .conflict(let m): return .conflict(m)
        case .failed(let m), .unavailable(let m): return .failed(m)
        }
    }
}

extension Manager {
    /// Tasks running (and meant to) per service id.
    func runningTaskCounts() -> [String: Int] {
        var counts: [String: Int] = [:]
        for t in tasks.values where t.status.state == .running && t.desiredState == .running { counts[t.serviceID, default: 0] += 1 }
        return counts
    }
}
