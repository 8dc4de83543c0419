import PierSpec
import Foundation
import PierAPI
import PierCluster
import PierCoAPAPI
import Testing
@testable import PierManager

/// The CoAP interface's manager backend on a real manager: what an activation creates or
/// changes, and what stop, start and remove do to the service.
@Suite struct ManagerConstrainedBackendTests {
    static func activation(_ body: String) throws -> ActivationRequest {
        try ActivationRequest.parse(Array(body.utf8), name: "sensor", cluster: true)
    }

    @Test func activateCreatesThenChangesInPlaceKeepingWhatTheRequestDoesNotSay() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let backend = ManagerConstrainedBackend(manager: manager)
            #expect(try await backend.activate("sensor", Self.activation(#"{"image":"busybox:1","replicas":2}"#), client: "field-1"))
            let created = try await manager.lookupService("sensor")
            #expect(created.spec.mode == .replicated(2) && created.spec.labels["pier.coap.client"] == "field-1")
            #expect(created.spec.task.container.image == "busybox@" + ManagerTests.digest)

            // Settings made elsewhere (labels, update policy) survive a re-activation.
            var spec = created.spec
            spec.labels["team"] = "iot"
            spec.update.parallelism = 3
            _ = try await manager.updateService(created.id, spec: spec)
            #expect(try await !backend.activate("sensor", Self.activation(#"{"image":"busybox:2","replicas":1}"#), client: "field-2"))
            let changed = try await manager.lookupService("sensor")
            #expect(changed.id == created.id && changed.spec.mode == .replicated(1))
            #expect(changed.spec.labels == ["team": "iot", "pier.coap.client": "field-2"])
            #expect(changed.spec.update.parallelism == 3)
            #expect(await manager.listServices().count == 1)

            // An image the manager cannot pin is a bad request (4.00), with the manager's reason.
            do {
                _ = try await backend.activate("other", Self.activation(#"{"image":"nginx:1"}"#), client: "field-1")
                Issue.record("an activation of an unknown image was accepted")
            } catch {
                guard case .invalid(let reason) = backend.translate(error) else {
                    Issue.record("translated as \(backend.translate(error))")
                    return
                }
                #expect(reason.contains("nginx:1"))
            }
            #expect(await manager.listServices().map(\.spec.name) == ["sensor"])
        }
    }

    @Test func stopScalesToZeroStartRestoresTheReplicasRemoveDeletes() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let backend = ManagerConstrainedBackend(manager: manager)
            _ = try await backend.activate("sensor", Self.activation(#"{"image":"busybox:1","replicas":3}"#), client: "field-1")
            let pending = try await backend.status("sensor")
            #expect(pending.state == "pending" && pending.desired == 3 && pending.running == 0)

            try await backend.stop("sensor")
            #expect(try await manager.lookupService("sensor").spec.mode == .replicated(0))
            #expect(try await backend.status("sensor").state == "stopped")
            try await backend.start("sensor")
            #expect(try await manager.lookupService("sensor").spec.mode == .replicated(3))
            // Starting a service that runs changes nothing.
            try await backend.start("sensor")
            #expect(try await manager.lookupService("sensor").spec.mode == .replicated(3))
            #expect(try await backend.list().map(\.name) == ["sensor"])

            try await backend.remove("sensor")
            #expect(await manager.listServices().isEmpty)
            do {
                _ = try await backend.status("sensor")
                Issue.record("a removed service still has a status")
            } catch {
                guard case .notFound = backend.translate(error) else {
                    Issue.record("translated as \(backend.translate(error))")
                    return
                }
            }
        }
    }

    @Test func statusIsDerivedFromDesiredAndRunningTasks() {
        let spec = ServiceSpec(name: "s", task: TaskTemplate(container: ContainerSpec(image: "busybox")), mode: .replicated(2))
        let service = Service(id: "svc1", spec: spec, createdAt: Date(), updatedAt: Date())
        #expect(ManagerConstrainedBackend.status(service, running: 0).state == "pending")
        #expect(ManagerConstrainedBackend.status(service, running: 2).state == "running")
        var stopped = service
        stopped.spec.mode = .replicated(0)
        #expect(ManagerConstrainedBackend.status(stopped, running: 1).state == "stopping")
        #expect(ManagerConstrainedBackend.status(stopped, running: 0).state == "stopped")
        var global = service
        global.spec.mode = .global
        let g = ManagerConstrainedBackend.status(global, running: 4)
        #expect(g.state == "running" && g.desired == 4)
    }
}
