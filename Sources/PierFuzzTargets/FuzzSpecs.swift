import Foundation
import PierAPI
import PierCluster
import PierCoAPAPI
import PierOCI
import PierSpec
import PierStack

/// The decoders of what clients ask for: container and service specs, activation bodies of the
/// constrained interface, compose files. Each decodes and then validates, as the servers do.
enum FuzzSpecs {
    /// A CBOR activation body on a manager, and the same bytes as a JSON body on an agent.
    static func activationBody(_ bytes: [UInt8]) -> String? {
        for (cbor, cluster) in [(true, true), (false, false)] {
            guard let request = try? ActivationRequest.parse(bytes, name: "fuzz", cluster: cluster, cbor: cbor) else { continue }
            if request.container.name != "fuzz" { return "the parsed activation is named \(request.container.name ?? "nil"), not by its path" }
            if let replicas = request.replicas, !(0...ContainerSpec.maxReplicas).contains(replicas) {
                return "a replica count of \(replicas) was accepted"
            }
            if let problem = check(request.container) { return "an activation was accepted that the model refuses: \(problem)" }
        }
        return nil
    }

    /// A container create request as the agent API decodes it, then the checks the agent runs.
    static func container(_ bytes: [UInt8]) -> String? {
        guard let request = try? JSONDecoder().decode(ContainerSpec.self, from: Data(bytes)) else { return nil }
        _ = check(request)
        return nil
    }

    /// The request's privileges and the model's checks, as every server runs them; why the
    /// model refuses it, or nil.
    private static func check(_ r: ContainerSpec) -> String? {
        _ = r.requestedPrivileges
        do { try r.validate() } catch { return "\(error)" }
        return nil
    }

    /// A service spec as the manager API decodes it, its validation, and, for a valid one of a
    /// few replicas, a reconcile pass placing it on three nodes: what the manager does next.
    static func service(_ bytes: [UInt8]) -> String? {
        guard let spec = try? JSONDecoder().decode(ServiceSpec.self, from: Data(bytes)) else { return nil }
        _ = check(spec.task.container)
        guard (try? spec.validate()) != nil else { return nil }
        let limit: Int
        switch spec.mode {
        case .replicated(let n):
            guard n <= 32 else { return nil }  // larger counts only cost time here
            limit = n
        case .global:
            limit = nodes.count
        }
        let service = Service(id: "svc", spec: spec, createdAt: epoch, updatedAt: epoch)
        let counter = Counter()
        let reconciler = Reconciler(makeID: { counter.next() })
        let plan = reconciler.reconcile(ClusterSnapshot(nodes: nodes, services: [service], tasks: [], now: epoch))
        if plan.created.count > limit { return "a pass created \(plan.created.count) tasks for a service of \(limit)" }
        return nil
    }

    /// A compose file, the stack made of it, and each service's validation.
    static func compose(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self),
            let file = try? ComposeFile.parse(yaml: text, directory: "/srv/stack", environment: ["TAG": "1.0", "PORT": "8080"])
        else { return nil }
        for spec in file.services {
            // Compose validates every service as the manager's API does: what it accepts, the model accepts.
            do { try spec.validate() } catch { return "compose accepted service \(spec.name), which the model refuses: \(error)" }
        }
        _ = try? StackDefinition(name: file.name ?? "fuzz", compose: file)
        return nil
    }

    static let epoch = Date(timeIntervalSince1970: 1_700_000_000)

    /// Three ready nodes: two amd64 in zones a and b, one arm64 manager.
    static let nodes: [Node] = [
        ("n1", "amd64", NodeRole.worker, "a"), ("n2", "amd64", .worker, "b"), ("n3", "arm64", .manager, "a"),
    ].map { id, arch, role, zone in
        Node(
            id: id, role: role, labels: ["zone": zone],
            description: NodeDescription(
                hostname: id, platform: Platform(os: "linux", architecture: arch),
                resources: Resources(cpus: 4, memoryBytes: 4 << 30), devices: ["/dev/ttyUSB0"]),
            state: .ready, lastHeartbeat: epoch, createdAt: epoch, updatedAt: epoch)
    }

    /// Task ids for one pass: `t1`, `t2`, …
    private final class Counter: @unchecked Sendable {
        private var n = 0
        func next() -> String { n += 1; return "t\(n)" }
    }
}
