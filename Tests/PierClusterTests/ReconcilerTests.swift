import Foundation
import Testing
@testable import PierCluster

@Suite("Reconciler")
struct ReconcilerTests {
    @Test func createsAndSchedulesReplicasThenScales() throws {
        var cluster = TestCluster(nodes: [makeNode("a"), makeNode("b")], services: [makeService("web", mode: .replicated(3))])
        let plan = cluster.pass()
        #expect(plan.created.count == 3)
        #expect(plan.created.allSatisfy { $0.status.state == .assigned && $0.nodeID != nil && $0.history.map(\.state) == [.pending, .assigned] })
        #expect(cluster.live("web").map(\.slot) == [1, 2, 3])
        #expect(cluster.pass().isEmpty, "a converged cluster needs nothing")

        cluster.agentsAct()
        cluster.services["web"]?.spec.mode = .replicated(5)
        #expect(cluster.pass().created.map(\.slot).sorted { ($0 ?? 0) < ($1 ?? 0) } == [4, 5])

        cluster.agentsAct()
        cluster.services["web"]?.spec.mode = .replicated(2)
        let down = cluster.pass()
        #expect(Set(down.updated.filter { $0.desiredState == .shutdown }.compactMap(\.slot)) == [3, 4, 5])
        cluster.agentsAct()
        #expect(cluster.live("web").map(\.slot) == [1, 2])
        #expect(cluster.pass().isEmpty)
    }

    @Test func impossibleConstraintLeavesTaskPendingWithReason() {
        var cluster = TestCluster(nodes: [makeNode("a", labels: ["zone": "a"])],
                                  services: [makeService("s", template: makeTemplate(constraints: ["node.labels.zone==z"]))])
        cluster.pass()
        let task = cluster.live("s")[0]
        #expect(task.status.state == .pending)
        #expect(task.status.message == "no suitable node (scheduling constraints not satisfied on 1 node)")
        #expect(cluster.pass().isEmpty, "an unchanged reason is not rewritten")
        // A node that fits joins: the pending task is placed on the next pass.
        cluster.nodes["b"] = makeNode("b", labels: ["zone": "z"])
        let plan = cluster.pass()
        #expect(plan.updated.map(\.nodeID) == ["b"])
        #expect(plan.created.isEmpty)
    }

    @Test func globalFollowsNodesAndDrain() {
        var cluster = TestCluster(nodes: [makeNode("a"), makeNode("b"), makeNode("c", labels: ["gpio": "no"])],
                                  services: [makeService("agent", mode: .global, template: makeTemplate(constraints: ["node.labels.gpio!=no"]))])
        cluster.pass()
        #expect(cluster.live("agent").compactMap(\.nodeID) == ["a", "b"])
        cluster.agentsAct()

        cluster.nodes["d"] = makeNode("d")
        cluster.alive.insert("d")
        #expect(cluster.pass().created.compactMap(\.nodeID) == ["d"])
        cluster.agentsAct()

        cluster.nodes["a"]?.availability = .drain
        let plan = cluster.pass()
        #expect(plan.created.isEmpty, "a global task is not moved elsewhere")
        #expect(plan.updated.map { ($0.nodeID, $0.desiredState) } .elementsEqual([("a", TaskState.shutdown)], by: ==))
        cluster.agentsAct()
        #expect(cluster.live("agent").compactMap(\.nodeID) == ["b", "d"])

        // The label changes so that the constraint no longer holds: the task goes.
        cluster.nodes["b"]?.labels["gpio"] = "no"
        cluster.pass()
        cluster.agentsAct()
        #expect(cluster.live("agent").compactMap(\.nodeID) == ["d"])
    }

    @Test func failedTaskReplacedAfterRestartDelay() throws {
        let policy = RestartPolicy(condition: .onFailure, delaySeconds: 10)
        var cluster = TestCluster(nodes: [makeNode("a")], services: [makeService("s", template: makeTemplate(restart: policy))])
        cluster.reconciler.configuration.heartbeatGraceSeconds = 3600
        cluster.pass()
        cluster.agentsAct()
        let first = try #require(cluster.live("s").first)
        cluster.advance(3)
        cluster.report(first.id, .failed, exitCode: 1)
        let failedAt = cluster.now

        let waiting = cluster.pass()
        #expect(waiting.created.isEmpty)
        #expect(waiting.nextWakeup == failedAt.addingTimeInterval(10))

        cluster.advance(9.9)
        #expect(cluster.pass().created.isEmpty)
        cluster.advance(0.1)
        let restart = cluster.pass()
        #expect(restart.created.count == 1)
        #expect(restart.created.first?.slot == 1)
        #expect(cluster.tasks[first.id]?.desiredState == .shutdown)
    }

    @Test func restartConditionAndMaxAttempts() throws {
        let policy = RestartPolicy(condition: .any, delaySeconds: 0, maxAttempts: 2, windowSeconds: 60)
        var cluster = TestCluster(nodes: [makeNode("a")], services: [makeService("s", template: makeTemplate(restart: policy))])
        cluster.pass()
        var made = 1
        for _ in 0..<5 {
            cluster.agentsAct()
            cluster.advance(1)
            for t in cluster.live("s") { cluster.report(t.id, .failed, exitCode: 2) }
            made += cluster.pass().created.count
        }
        #expect(made == 3, "the first task and two restarts")
        #expect(cluster.live("s").isEmpty)
        #expect(cluster.tasks.values.count(where: { $0.desiredState == .running }) == 1, "the last failed task keeps the slot")

        // on-failure: a clean exit is not restarted.
        var clean = TestCluster(nodes: [makeNode("a")], services: [makeService("job", template: makeTemplate(restart: RestartPolicy(condition: .onFailure, delaySeconds: 0)))])
        clean.pass()
        clean.agentsAct()
        let job = try #require(clean.live("job").first)
        clean.report(job.id, .complete, exitCode: 0)
        #expect(clean.pass().created.isEmpty)
    }

    @Test func nodeDownOrphansAndReschedulesAtOnce() throws {
        let slow = RestartPolicy(condition: .any, delaySeconds: 30)
        var cluster = TestCluster(nodes: [makeNode("a"), makeNode("b")], services: [makeService("s", mode: .replicated(2), template: makeTemplate(restart: slow))])
        cluster.pass()
        cluster.agentsAct()
        let onA = try #require(cluster.live("s").first { $0.nodeID == "a" })

        cluster.alive.remove("a")
        cluster.advance(1)
        let before = cluster.pass()
        #expect(before.downNodes.isEmpty)
        #expect(before.nextWakeup == t0.addingTimeInterval(1.5), "wakes at node a's heartbeat deadline")

        cluster.advance(0.5)
        let plan = cluster.pass()
        #expect(plan.downNodes == ["a"])
        #expect(cluster.tasks[onA.id]?.status.state == .orphaned)
        #expect(cluster.tasks[onA.id]?.status.message == "node a down")
        #expect(plan.created.count == 1, "replaced without the 30 s restart delay")
        #expect(plan.created.first?.nodeID == "b")
        #expect(plan.created.first?.slot == onA.slot)

        // Node a returns: its stale container is in the stop list of its assignment set.
        cluster.nodes["a"]?.state = .ready
        cluster.alive.insert("a")
        let assignment = NodeAssignment(nodeID: "a", tasks: cluster.tasks.values)
        #expect(assignment.stop.map(\.id) == [onA.id])
        #expect(assignment.run.isEmpty)
    }

    @Test func drainMovesTasksElsewhere() {
        var cluster = TestCluster(nodes: [makeNode("a"), makeNode("b")], services: [makeService("s", mode: .replicated(2))])
        cluster.pass()
        cluster.agentsAct()
        cluster.nodes["a"]?.availability = .drain
        let plan = cluster.pass()
        #expect(plan.created.count == 1)
        #expect(plan.created.first?.nodeID == "b")
        #expect(NodeAssignment(nodeID: "a", tasks: cluster.tasks.values).stop.count == 1)
        cluster.agentsAct()
        #expect(cluster.running("s").allSatisfy { $0.nodeID == "b" })
        #expect(cluster.running("s").count == 2)
    }

    @Test func historyIsPrunedPerSlot() {
        var cluster = TestCluster(nodes: [makeNode("a")], services: [makeService("s")])
        cluster.reconciler.configuration.taskHistoryLimit = 2
        cluster.pass()
        for _ in 0..<6 {
            cluster.agentsAct()
            cluster.advance(1)
            for t in cluster.live("s") { cluster.report(t.id, .failed, exitCode: 1) }
            cluster.pass()
        }
        let ended = cluster.tasks.values.filter { $0.desiredState == .shutdown }
        #expect(ended.count == 2)
        #expect(cluster.tasks.count == 3)
    }

    @Test func removedServiceTasksStopAndGo() {
        var cluster = TestCluster(nodes: [makeNode("a")], services: [makeService("s", mode: .replicated(2))])
        cluster.pass()
        cluster.agentsAct()
        cluster.services["s"] = nil
        #expect(cluster.pass().updated.allSatisfy { $0.desiredState == .shutdown })
        cluster.agentsAct()
        #expect(cluster.pass().deleted.count == 2)
        #expect(cluster.tasks.isEmpty)
    }

    @Test func randomIDsAreSwarmShapedAndDistinct() {
        let ids = (0..<2000).map { _ in Reconciler.randomID() }
        let alphabet = Set("abcdefghijklmnopqrstuvwxyz0123456789")
        #expect(ids.allSatisfy { $0.count == 25 && $0.allSatisfy(alphabet.contains) })
        #expect(Set(ids).count == ids.count)
        // Every digit shows up in every position over 2,000 ids (a stuck or biased draw would not).
        for position in [0, 11, 12, 23, 24] {
            let seen = Set(ids.map { Array($0)[position] })
            #expect(seen.count == 36, "position \(position) saw \(seen.count) of 36 digits")
        }
    }
}
