import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierManager

@Suite struct StateStoreTests {
    @Test func committedChangesSurviveReopening() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("manager.db")
            let service = Service(id: "s1", spec: ServiceSpec(name: "web", task: TaskTemplate(container: ContainerSpec(image: "busybox@sha256:" + String(repeating: "a", count: 64)))))
            var task = ClusterTask(id: "t1", serviceID: "s1", serviceName: "web", slot: 1, serviceVersion: 1, template: service.spec.task, image: service.spec.task.container.image)
            task.transition(to: TaskStatus(state: .running, message: "started"))
            do {
                let store = try SQLiteStateStore(path: path)
                var changes = ChangeSet()
                changes.services = [service]
                changes.tasks = [task]
                changes.meta["clusterID"] = "c1"
                try store.commit(changes)
            }
            let reopened = try await SQLiteStateStore(path: path).load()
            #expect(reopened.services == [service])
            #expect(reopened.tasks.map(\.id) == ["t1"])
            #expect(reopened.tasks.first?.history.map(\.state) == [.new, .running])
            #expect(reopened.meta["clusterID"] == "c1")
        }
    }

    @Test func aFailingChangeSetChangesNothing() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteStateStore(path: dir.appendingPathComponent("manager.db"))
            let template = TaskTemplate(container: ContainerSpec(image: "busybox"))
            var first = ChangeSet()
            first.services = [Service(id: "s1", spec: ServiceSpec(name: "web", task: template))]
            try store.commit(first)
            // Second set: a new task, plus a service whose name collides (unique constraint).
            var second = ChangeSet()
            second.tasks = [ClusterTask(id: "t9", serviceID: "s2", serviceName: "web", slot: 1, serviceVersion: 1, template: template, image: "busybox")]
            second.services = [Service(id: "s2", spec: ServiceSpec(name: "web", task: template))]
            #expect(throws: (any Error).self) { try store.commit(second) }
            let state = try await store.load()
            #expect(state.services.map(\.id) == ["s1"])
            #expect(state.tasks.isEmpty)
        }
    }
}

func withTemporaryDirectory(_ body: (URL) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-manager-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try await body(dir)
}

@Suite struct RequestDecodingTests {
    @Test func aMinimalServiceSpecDecodesWithDefaults() throws {
        let json = #"{"name":"web","task":{"container":{"image":"busybox","command":["sleep","1"]}}}"#
        let spec = try JSONDecoder().decode(ServiceSpec.self, from: Data(json.utf8))
        #expect(spec.mode == .replicated(1))
        #expect(spec.task.container.env.isEmpty && spec.task.restartPolicy == RestartPolicy())
        #expect(spec.update == UpdateConfig())
    }

    @Test func aWrongTypeIsStillAnErrorNamingTheField() async throws {
        let json = #"{"name":"web","task":{"container":{"image":"busybox","readOnly":"yes"}}}"#
        #expect(throws: ManagerError.self) { try JSONResponses.decode(ServiceSpec.self, Data(json.utf8)) }
        do { _ = try JSONResponses.decode(ServiceSpec.self, Data(json.utf8)) } catch {
            #expect("\(error)".contains("task.container.readOnly"))
        }
    }
}
