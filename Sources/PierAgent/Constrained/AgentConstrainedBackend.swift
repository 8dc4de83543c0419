import PierAPI
import PierCoAPAPI

/// The agent's services for the CoAP interface (CPIS): its containers, activated directly on
/// this device. A container activated over CoAP carries the label `pier.coap.client=NAME`.
struct AgentConstrainedBackend: ConstrainedBackend {
    let containers: ContainerManager
    /// Seconds `DELETE` waits after the stop signal before it kills.
    var stopGrace = 2

    var role: String { "agent" }

    func list() async throws -> [ConstrainedServiceStatus] {
        try await containers.list(all: true).map(Self.status)
    }

    func status(_ name: String) async throws -> ConstrainedServiceStatus {
        Self.status(try await containers.inspect(name).summary)
    }

    static func status(_ s: ContainerSummary) -> ConstrainedServiceStatus {
        ConstrainedServiceStatus(
            name: s.name, image: s.image, state: s.state.rawValue, health: s.health == .none ? nil : s.health.rawValue,
            exitCode: s.state == .running ? nil : s.exitCode, ports: s.ports.isEmpty ? nil : s.ports)
    }

    func activate(_ name: String, _ request: ActivationRequest, client: String) async throws -> Bool {
        var create = request.container
        create.labels["pier.coap.client"] = client
        if let existing = try? await containers.record(name) {
            // PUT is idempotent: the same request for a running container changes nothing;
            // a different one replaces the container. The stored config has the stop signal the
            // image gave (`create` fills it in), which the request may have left out.
            var same = create
            if same.stopSignal == nil { same.stopSignal = existing.config.stopSignal }
            if existing.config == same {
                if existing.state != .running && existing.state != .restarting { try await containers.start(existing.id) }
                return false
            }
            try await containers.remove(existing.id, force: true)
        }
        _ = try await containers.run(create)
        return true
    }

    func stop(_ name: String) async throws { try await containers.stop(name, timeout: stopGrace) }

    func start(_ name: String) async throws {
        let r = try await containers.record(name)
        guard r.state != .running else { return }
        try await containers.start(r.id)
    }

    func remove(_ name: String) async throws {
        let r = try await containers.record(name)
        if r.state == .running { try await containers.stop(r.id, timeout: stopGrace) }
        try await containers.remove(r.id, force: true)
    }

    func onChange(_ changed: @escaping @Sendable () -> Void) async { await containers.onChange(changed) }

    func translate(_ error: any Error) -> ConstrainedAPIError {
        guard let e = error as? AgentError else { return .failed("\(error)") }
        switch e {
        case .invalid(let m): return .invalid(m)
        case .noSuchContainer(let name): return .notFound("no service \(name) on this agent")
        case .noSuchImage, .noSuchImageMessage: return .notFound(e.description)
        case .conflict(let m): return .conflict(m)
        case .forbidden(let m), .tooLarge(let m): return .invalid(m)
        case .failed(let m), .unavailable(let m): return .failed(m)
        }
    }
}
