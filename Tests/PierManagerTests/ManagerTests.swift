import PierSpec
import Foundation
import PierAPI
import PierCluster
import Synchronization
import Testing
@testable import PierManager

/// The manager driven through its session API by simulated agents: what the manager decides
/// and sends, without containers (the integration tests run real agents).
@Suite struct ManagerTests {
    static let digest = "sha256:" + String(repeating: "b", count: 64)

    /// A manager whose nodes stay up for `grace` seconds without a heartbeat: long by default,
    /// so that no node goes down on a busy machine unless a test means it to.
    static func makeManager(_ dir: URL, grace: Double = 120) async throws -> Manager {
        var configuration = Manager.Configuration()
        configuration.heartbeatSeconds = 0.2
        configuration.heartbeatGrace = grace
        return try await Manager(store: try SQLiteStateStore(path: dir.appendingPathComponent("manager.db")), configuration: configuration) { ref in
            guard ref.hasPrefix("busybox") else { throw ManagerError.notFound("no image \(ref)") }
            return "busybox@" + digest
        }
    }

    static func spec(_ name: String, replicas: Int = 1) -> ServiceSpec {
        ServiceSpec(name: name, task: TaskTemplate(container: ContainerSpec(image: "busybox:latest", command: ["sleep", "1000"])), mode: .replicated(replicas))
    }

    /// A simulated agent: records the assignments it receives and answers with reports.
    final class SimulatedAgent: Sendable {
        let nodeID: String
        let received = Mutex<[Assignments]>([])
        let logRequests = Mutex<[LogsRequest]>([])
        let logCancels = Mutex<[String]>([])
        let session = Mutex<UUID?>(nil)
        init(nodeID: String) { self.nodeID = nodeID }
        var latest: [AssignedTask] { received.withLock { $0.last?.tasks ?? [] } }

        func connect(_ manager: Manager, hostname: String) async throws {
            let token = try await manager.attach(
                nodeID: nodeID, address: nil,
                hello: AgentHello(description: NodeDescription(hostname: hostname, platform: Platform(os: "linux", architecture: "amd64"), resources: Resources(cpus: 2, memoryBytes: 1 << 30)), reports: []),
                send: { [self] message in
                    switch message {
                    case .assignments(let a): self.received.withLock { $0.append(a) }
                    case .logsRequest(let r): self.logRequests.withLock { $0.append(r) }
                    case .logsCancel(let id): self.logCancels.withLock { $0.append(id) }
                    case .welcome, .trust, .peers, .directory: break
                    }
                })
            session.withLock { $0 = token }
        }
        /// Reports every assigned running task as running.
        func runAll(_ manager: Manager) async throws {
            let reports = latest.filter { $0.desiredState == .running }.map { TaskReport(taskID: $0.taskID, state: .running, message: "started") }
            try await manager.receive(nodeID: nodeID, .status(reports))
        }
    }

    struct TimedOut: Error, CustomStringConvertible {
        let description: String
    }

    /// Polls `check` until it holds; after `timeout` seconds records an issue and throws, so the
    /// test stops there instead of going on with what did not arrive.
    static func eventually(_ what: String, timeout: Double = 30, _ check: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for: \(what)")
        throw TimedOut(description: "timed out waiting for: \(what)")
    }

    @Test func createPinsTheImageAndRefusesBadSpecsWithoutStoringThem() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            let service = try await manager.createService(Self.spec("web"))
            #expect(service.spec.task.container.image == "busybox@" + Self.digest)
            await #expect(throws: ManagerError.self) { try await manager.createService(Self.spec("web")) }
            var missing = Self.spec("other")
            missing.task.container.image = "nginx:1"
            await #expect(throws: ManagerError.self) { try await manager.createService(missing) }
            var badConstraint = Self.spec("third")
            badConstraint.task.placement.constraints = ["node.labels.zone=a"]
            await #expect(throws: ManagerError.self) { try await manager.createService(badConstraint) }
            await #expect(throws: ManagerError.self) { try await manager.createService(Self.spec("Bad Name!")) }
            #expect(await manager.listServices().map(\.spec.name) == ["web"])
        }
    }

    @Test func serviceLogsAreGatheredFromTheNodesLinePrefixedByTask() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            let loop = Task { await manager.run() }
            defer { loop.cancel() }
            _ = try await manager.addNode(id: "node-a", role: .worker, hostname: "a")
            _ = try await manager.addNode(id: "node-b", role: .worker, hostname: "b")
            let a = SimulatedAgent(nodeID: "node-a"), b = SimulatedAgent(nodeID: "node-b")
            try await a.connect(manager, hostname: "a")
            try await b.connect(manager, hostname: "b")
            _ = try await manager.createService(Self.spec("web", replicas: 2))
            try await Self.eventually("2 tasks assigned") { a.latest.count == 1 && b.latest.count == 1 }
            let taskA = try #require(a.latest.first), taskB = try #require(b.latest.first)

            // Each node is asked for its own task's output only.
            let stream = try await manager.serviceLogs("web", tail: 10, follow: false, timestamps: false)
            let requestA = try #require(a.logRequests.withLock { $0.first })
            let requestB = try #require(b.logRequests.withLock { $0.first })
            #expect(requestA.taskIDs == [taskA.taskID] && requestB.taskIDs == [taskB.taskID])
            #expect(requestA.tail == 10 && !requestA.follow)

            // A line split over two chunks gets one prefix; stderr stays stderr; b ends first.
            func record(_ text: String, _ stream: String = "stdout") -> LogChunk.Record { .init(stream: stream, data: Data(text.utf8)) }
            try await manager.receive(nodeID: "node-b", .logs(LogChunk(requestID: requestB.requestID, taskID: taskB.taskID, records: [record("oops\n", "stderr")], end: true)))
            try await manager.receive(nodeID: "node-a", .logs(LogChunk(requestID: requestA.requestID, taskID: taskA.taskID, records: [record("hello\nwor")])))
            // A chunk naming another node's task, or an unknown one, is not trusted.
            try await manager.receive(nodeID: "node-a", .logs(LogChunk(requestID: requestA.requestID, taskID: taskB.taskID, records: [record("x\n")])))
            try await manager.receive(nodeID: "node-a", .logs(LogChunk(requestID: requestA.requestID, taskID: "forged", records: [record("x\n")])))
            try await manager.receive(nodeID: "node-a", .logs(LogChunk(requestID: requestA.requestID, taskID: taskA.taskID, records: [record("ld\n")], end: true)))
            var out = "", err = ""
            for await frame in stream {
                if frame.kind == .stdout { out += String(decoding: frame.payload, as: UTF8.self) }
                if frame.kind == .stderr { err += String(decoding: frame.payload, as: UTF8.self) }
            }
            let tasks = try await manager.listTasks(service: "web")
            let slotA = try #require(tasks.first { $0.id == taskA.taskID }?.slot)
            let slotB = try #require(tasks.first { $0.id == taskB.taskID }?.slot)
            #expect(out == "web.\(slotA).\(taskA.taskID.prefix(12))@a    | hello\nweb.\(slotA).\(taskA.taskID.prefix(12))@a    | world\n")
            #expect(err == "web.\(slotB).\(taskB.taskID.prefix(12))@b    | oops\n")

            // Following: the stream stays open until the reader goes; a node that drops says so,
            // and the others are told to stop when the reader leaves.
            let following = try await manager.serviceLogs("web", tail: nil, follow: true, timestamps: false)
            let followA = try #require(a.logRequests.withLock { $0.last })
            #expect(followA.follow && followA.requestID != requestA.requestID)
            await manager.detach(nodeID: "node-b", token: try #require(b.session.withLock { $0 }))
            var iterator = following.makeAsyncIterator()
            let lost = try #require(await iterator.next())
            #expect(String(decoding: lost.payload, as: UTF8.self).contains("lost the session with node b"))
            await manager.endLogs(followA.requestID)
            #expect(a.logCancels.withLock { $0 } == [followA.requestID])
            #expect(b.logCancels.withLock { $0 }.isEmpty)

            await #expect(throws: ManagerError.self) { _ = try await manager.serviceLogs("nope", tail: nil, follow: false, timestamps: false) }
        }
    }

    @Test func tasksAreAssignedReportedAndMovedWhenANodeGoesSilent() async throws {
        try await withTemporaryDirectory { dir in
            // Grace for b to go down within the test, several seconds so that a, beating every
            // 100 ms and at every poll below, stays up even on a loaded machine.
            let manager = try await Self.makeManager(dir, grace: 3)
            let loop = Task { await manager.run() }
            defer { loop.cancel() }
            _ = try await manager.addNode(id: "node-a", role: .worker, hostname: "a")
            _ = try await manager.addNode(id: "node-b", role: .worker, hostname: "b")
            let a = SimulatedAgent(nodeID: "node-a"), b = SimulatedAgent(nodeID: "node-b")
            try await a.connect(manager, hostname: "a")
            try await b.connect(manager, hostname: "b")
            // Both beat until b stops.
            func beating(_ id: String) -> Task<Void, Never> {
                Task { while !Task.isCancelled { try? await manager.receive(nodeID: id, .heartbeat); try? await Task.sleep(for: .milliseconds(100)) } }
            }
            let beatA = beating("node-a"), beatB = beating("node-b")
            defer { beatA.cancel(); beatB.cancel() }
            _ = try await manager.createService(Self.spec("web", replicas: 4))
            try await Self.eventually("4 tasks assigned") { a.latest.count + b.latest.count == 4 }
            #expect(a.latest.count == 2 && b.latest.count == 2, "spread over both nodes")
            try await a.runAll(manager)
            try await b.runAll(manager)
            try await Self.eventually("tasks running") {
                try await manager.listTasks(service: "web").filter { $0.status.state == .running }.count == 4
            }
            // b goes silent: within the grace it is down and its two tasks run on a.
            beatB.cancel()
            try await Self.eventually("node b down, all 4 on a") {
                try await manager.receive(nodeID: "node-a", .heartbeat)
                let bDown = try await manager.lookupNode("b").state == .down
                return bDown && a.latest.filter { $0.desiredState == .running }.count == 4
            }
            let orphaned = try await manager.listTasks(service: "web").filter { $0.status.state == .orphaned }
            #expect(orphaned.count == 2)
            #expect(orphaned.allSatisfy { $0.nodeID == "node-b" })
            #expect(try await manager.lookupNode("a").state == .ready)
        }
    }

    @Test func stateSurvivesAManagerRestart() async throws {
        try await withTemporaryDirectory { dir in
            do {
                let manager = try await Self.makeManager(dir)
                _ = try await manager.addNode(id: "node-a", role: .worker, hostname: "a")
                try await SimulatedAgent(nodeID: "node-a").connect(manager, hostname: "a")
                _ = try await manager.createService(Self.spec("web", replicas: 2))
                try await manager.reconcilePass()
                #expect(try await manager.listTasks(service: "web").count == 2)
            }
            let again = try await Self.makeManager(dir)
            #expect(await again.listServices().map(\.spec.name) == ["web"])
            let tasks = try await again.listTasks(service: "web")
            #expect(tasks.count == 2)
            #expect(tasks.allSatisfy { $0.nodeID == "node-a" && $0.status.state == .assigned })
            #expect(try await again.lookupNode("a").state == .ready, "until its heartbeat grace runs out")
        }
    }

    @Test func removedNodesAreNoLongerMembers() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await Self.makeManager(dir)
            _ = try await manager.addNode(id: "node-a", role: .worker, hostname: "a")
            try await manager.removeNode("a", force: false)
            #expect(await manager.isRemoved("node-a"))
            #expect(!(await manager.isMember("node-a")))
            await #expect(throws: ManagerError.self) {
                _ = try await manager.attach(nodeID: "node-a", address: nil, hello: AgentHello(description: NodeDescription(hostname: "a", platform: Platform(os: "linux", architecture: "amd64"), resources: .zero), reports: []), send: { _ in })
            }
        }
    }
}
