import Foundation
import Testing
@testable import PierCluster

@Suite("Scale")
struct ScaleTests {
    /// 1,000 nodes in 10 zones, 30 services of 1,000 replicas, scheduled in one pass. Prints the
    /// time (never asserts on it: a timed assertion is flaky on a shared machine).
    @Test func thousandNodesThirtyThousandTasks() {
        let nodes = (0..<1000).map { i in
            makeNode(String(format: "node%04d", i), labels: ["zone": "z\(i % 10)"], cpus: 64, memory: 64 * gib,
                     devices: i % 4 == 0 ? ["/dev/gpiochip0"] : [])
        }
        let services = (0..<30).map { s in
            makeService("svc\(s)", mode: .replicated(1000), template: makeTemplate(
                image: "app\(s):1", preferences: s % 3 == 0 ? ["spread=node.labels.zone"] : [],
                devices: s % 10 == 0 ? ["/dev/gpiochip0"] : [], reserve: Resources(cpus: 0.01, memoryBytes: 1 << 20)))
        }
        let start = ContinuousClock.now
        let plan = Reconciler().reconcile(ClusterSnapshot(nodes: nodes, services: services, tasks: [], now: t0))
        let elapsed = ContinuousClock.now - start
        print("reconcile + schedule of 1,000 nodes / 30,000 tasks: \(elapsed)")
        #expect(plan.created.count == 30_000)
        #expect(plan.created.allSatisfy { $0.status.state == .assigned })
        let gpio = plan.created.filter { $0.serviceID == "svc0" }
        #expect(gpio.allSatisfy { Int($0.nodeID?.dropFirst(4) ?? "1").map { $0 % 4 == 0 } ?? false })

        // Converged (every task running): the next pass has nothing to do; one node lost moves its tasks.
        var running = plan.created
        for i in running.indices { running[i].transition(to: TaskStatus(state: .running, timestamp: t0.addingTimeInterval(1))) }
        let later = t0.addingTimeInterval(1)
        let fresh = nodes.map { node in var node = node; node.lastHeartbeat = later; return node }
        let steadyStart = ContinuousClock.now
        let steady = Reconciler().reconcile(ClusterSnapshot(nodes: fresh, services: services, tasks: running, now: later))
        print("steady-state pass, no change: \(ContinuousClock.now - steadyStart)")
        #expect(steady.isEmpty)
        let lost = fresh.map { node in var node = node; if node.id != "node0500" { node.lastHeartbeat = later.addingTimeInterval(2) }; return node }
        let failover = Reconciler().reconcile(ClusterSnapshot(nodes: lost, services: services, tasks: running, now: later.addingTimeInterval(2)))
        let onLost = running.filter { $0.nodeID == "node0500" }.count
        #expect(failover.downNodes == ["node0500"])
        #expect(failover.created.count == onLost && failover.created.allSatisfy { $0.status.state == .assigned && $0.nodeID != "node0500" })

        var scheduler = Scheduler(nodes: nodes, tasks: [])
        var tasks: [ClusterTask] = []
        for service in services {
            for slot in 1...1000 { tasks.append(pendingTask("\(service.id).\(slot)", service: service.id, template: service.spec.task, slot: slot)) }
        }
        let schedStart = ContinuousClock.now
        let outcomes = scheduler.schedule(tasks)
        print("scheduler alone, 30,000 tasks onto 1,000 nodes: \(ContinuousClock.now - schedStart)")
        #expect(outcomes.allSatisfy { $0.nodeID != nil })
    }
}
