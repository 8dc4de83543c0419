import Foundation
import PierAPI
import PierCluster
import PierSpec
import Synchronization
import Testing
@testable import PierManager

/// The service directory the manager sends each session: after the welcome, and again whenever
/// a task's address, state or health or a service's names change it.
@Suite struct ManagerDirectoryTests {
    final class Listener: Sendable {
        let directories = Mutex<[ServiceDirectory]>([])
        let assignments = Mutex<[AssignedTask]>([])
        let order = Mutex<[String]>([])
        var last: ServiceDirectory? { directories.withLock { $0.last } }

        func connect(_ manager: Manager, nodeID: String) async throws {
            _ = try await manager.attach(
                nodeID: nodeID, address: nil,
                hello: AgentHello(description: NodeDescription(hostname: nodeID, platform: Platform(os: "linux", architecture: "amd64"), resources: Resources(cpus: 2, memoryBytes: 1 << 30)), reports: []),
                send: { [self] message in
                    switch message {
                    case .welcome: self.order.withLock { $0.append("welcome") }
                    case .directory(let d):
                        self.order.withLock { $0.append("directory") }
                        self.directories.withLock { $0.append(d) }
                    case .assignments(let a): self.assignments.withLock { $0 = a.tasks }
                    default: break
                    }
                })
        }
    }

    @Test func addressesOfRunningTasksReachEverySessionAndLeaveWhenTheyStop() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let loop = Task { await manager.run() }
            defer { loop.cancel() }
            _ = try await manager.addNode(id: "node-a", role: .worker, hostname: "a")
            _ = try await manager.addNode(id: "node-b", role: .worker, hostname: "b")
            let a = Listener(), b = Listener()
            try await a.connect(manager, nodeID: "node-a")
            try await b.connect(manager, nodeID: "node-b")
            #expect(a.order.withLock { Array($0.prefix(2)) } == ["welcome", "directory"], "the directory follows the welcome")
            #expect(a.last == ServiceDirectory())

            var spec = ManagerTests.spec("shop_web", replicas: 1)
            spec.labels[stackNamespaceLabel] = "shop"
            spec.aliases = ["www"]
            _ = try await manager.createService(spec)
            try await ManagerTests.eventually("the service's record, without addresses") {
                a.last?.services.map(\.name) == ["shop_web"] && b.last == a.last
            }
            #expect(a.last?.services.first?.stack == "shop" && a.last?.services.first?.aliases == ["www"])
            try await ManagerTests.eventually("a task assigned") { !(a.assignments.withLock { $0 } + b.assignments.withLock { $0 }).isEmpty }
            let node = a.assignments.withLock { $0 }.isEmpty ? "node-b" : "node-a"
            let task = try #require((a.assignments.withLock { $0 } + b.assignments.withLock { $0 }).first)

            // Running with an address: both nodes hear it.
            try await manager.receive(nodeID: node, .status([TaskReport(taskID: task.taskID, state: .running, message: "started", address: "10.89.0.5")]))
            try await ManagerTests.eventually("the address in every session") {
                a.last?.services.first?.addresses == ["10.89.0.5"] && b.last?.services.first?.addresses == ["10.89.0.5"]
            }
            // Scaled to 0: the address goes as soon as the task is to stop, before it has stopped.
            _ = try await manager.scaleService("shop_web", replicas: 0)
            try await ManagerTests.eventually("the address gone") { a.last?.services.first?.addresses == [] && b.last?.services.first?.addresses == [] }
            let sent = a.directories.withLock { $0.count }
            // An unchanged directory is not sent again.
            try await manager.receive(nodeID: node, .heartbeat)
            try await Task.sleep(for: .milliseconds(300))
            #expect(a.directories.withLock { $0.count } == sent)
        }
    }
}
