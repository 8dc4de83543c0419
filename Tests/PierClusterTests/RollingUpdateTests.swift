import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierCluster

@Suite("Rolling updates")
struct RollingUpdateTests {
    /// A cluster running `replicas` tasks of `web` on image v1, converged.
    func running(replicas: Int, update: UpdateConfig, rollback: UpdateConfig = UpdateConfig(parallelism: 0, monitorSeconds: 0), health: HealthCheckConfig? = nil) -> TestCluster {
        let service = makeService("web", mode: .replicated(replicas), template: makeTemplate(image: "web:1", health: health), update: update, rollback: rollback)
        var cluster = TestCluster(nodes: [makeNode("a"), makeNode("b"), makeNode("c")], services: [service])
        cluster.reconciler.configuration.heartbeatGraceSeconds = 3600
        cluster.pass()
        cluster.agentsAct(health: "healthy")
        return cluster
    }

    /// What `pier service update --image` stores.
    func setImage(_ image: String, in cluster: inout TestCluster) {
        guard var service = cluster.services["web"] else { return }
        service.previousSpec = service.spec
        service.spec.task.container.image = image
        service.version += 1
        service.updateStatus = nil
        cluster.services["web"] = service
    }

    func images(_ cluster: TestCluster) -> [String] { cluster.live("web").map(\.image) }

    @Test func stopFirstInBatchesOfParallelism() throws {
        var cluster = running(replicas: 4, update: UpdateConfig(parallelism: 2, delaySeconds: 10, monitorSeconds: 0, order: .stopFirst))
        setImage("web:2", in: &cluster)

        let first = cluster.pass()
        #expect(first.services.first?.updateStatus?.state == .updating)
        #expect(first.created.map(\.slot) == [1, 2])
        #expect(first.created.allSatisfy { $0.image == "web:2" && $0.serviceVersion == 2 })
        #expect(first.updated.filter { $0.desiredState == .shutdown }.compactMap(\.slot).sorted() == [1, 2], "stop-first stops the old tasks at once")
        #expect(cluster.pass().created.isEmpty, "the batch is still in flight")

        cluster.agentsAct()
        let waiting = cluster.pass()
        #expect(waiting.created.isEmpty)
        #expect(waiting.nextWakeup == cluster.now.addingTimeInterval(10), "delay between batches")
        cluster.advance(10)
        #expect(cluster.pass().created.map(\.slot) == [3, 4])
        cluster.agentsAct()
        let done = cluster.pass()
        #expect(done.services.first?.updateStatus?.state == .completed)
        #expect(images(cluster) == Array(repeating: "web:2", count: 4))
        #expect(cluster.pass().isEmpty)
    }

    /// Download-then-switch: no old task is stopped until every node that runs one holds the
    /// new image; the manager asks exactly those nodes to stage it.
    @Test func updatesWaitUntilTheNodesHoldTheNewImage() throws {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 1, monitorSeconds: 0, order: .stopFirst))
        cluster.reconciler.configuration.stageTimeoutSeconds = 60
        setImage("web:2", in: &cluster)
        let holders = Set(cluster.live("web").compactMap(\.nodeID)).sorted()
        #expect(holders.count == 2)

        let first = cluster.pass()
        #expect(first.created.isEmpty)
        #expect(!first.updated.contains { $0.desiredState == .shutdown }, "nothing stops before the image is there")
        #expect(cluster.services["web"]?.updateStatus?.state == .updating)
        #expect(cluster.services["web"]?.updateStatus?.message == "staging web:2 on 2 of 2 node(s) before replacing their tasks")
        #expect(first.nextWakeup == cluster.now.addingTimeInterval(60))
        for id in cluster.nodes.keys.sorted() {
            let stage = NodeAssignment.stage(nodeID: id, tasks: cluster.tasks.values, services: cluster.services)
            #expect(stage == (holders.contains(id) ? ["web:2"] : []), "\(id)")
        }

        cluster.nodes[holders[0]]?.stagedImages = ["web:2"]
        #expect(cluster.pass().created.isEmpty)
        #expect(cluster.services["web"]?.updateStatus?.message.hasPrefix("staging web:2 on 1 of 2") == true)
        cluster.nodes[holders[1]]?.stagedImages = ["web:2"]
        let go = cluster.pass()
        #expect(go.created.map(\.slot) == [1])
        #expect(cluster.services["web"]?.updateStatus?.message == "update in progress")
        for _ in 0..<3 {
            cluster.agentsAct()
            cluster.pass()
        }
        #expect(cluster.services["web"]?.updateStatus?.state == .completed)
        #expect(images(cluster) == ["web:2", "web:2"])
        #expect(NodeAssignment.stage(nodeID: holders[0], tasks: cluster.tasks.values, services: cluster.services).isEmpty)
    }

    /// A node that cannot stage the image (a dead link) holds the update up only until the timeout.
    @Test func stagingGivesUpAfterTheTimeout() throws {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 0, monitorSeconds: 0, order: .stopFirst))
        cluster.reconciler.configuration.stageTimeoutSeconds = 60
        setImage("web:2", in: &cluster)
        #expect(cluster.pass().created.isEmpty)
        cluster.advance(59)
        #expect(cluster.pass().created.isEmpty)
        cluster.advance(1)
        #expect(cluster.pass().created.map(\.slot) == [1, 2])
        #expect(cluster.services["web"]?.updateStatus?.message.contains("did not stage web:2 within 60 s") == true)
    }

    @Test func startFirstKeepsOldUntilNewRuns() throws {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 1, monitorSeconds: 0, order: .startFirst))
        setImage("web:2", in: &cluster)
        let first = cluster.pass()
        #expect(first.created.map(\.slot) == [1])
        #expect(first.updated.allSatisfy { $0.desiredState == .running }, "the old task keeps running")
        #expect(cluster.live("web").filter { $0.slot == 1 }.count == 2)

        cluster.agentsAct()
        let second = cluster.pass()
        let stopped = second.updated.filter { $0.desiredState == .shutdown }
        #expect(stopped.map(\.slot) == [1])
        #expect(stopped.first?.image == "web:1")
        #expect(second.created.map(\.slot) == [2])
        cluster.agentsAct()
        cluster.pass()
        #expect(cluster.services["web"]?.updateStatus?.state == .completed)
        #expect(images(cluster) == ["web:2", "web:2"])
        cluster.agentsAct()
        #expect(cluster.tasks.values.count(where: { $0.image == "web:1" && $0.status.state == .running }) == 0)
    }

    @Test func monitorWindowGatesProgressAndCompletion() throws {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 1, monitorSeconds: 5))
        setImage("web:2", in: &cluster)
        cluster.pass()
        cluster.agentsAct()
        let watching = cluster.pass()
        #expect(watching.created.isEmpty)
        #expect(watching.nextWakeup == cluster.now.addingTimeInterval(5))
        cluster.advance(5)
        #expect(cluster.pass().created.map(\.slot) == [2])
    }

    @Test func failingHealthCheckRollsBack() throws {
        let check = HealthCheckConfig(command: ["true"], intervalSeconds: 1)
        var cluster = running(
            replicas: 3, update: UpdateConfig(parallelism: 1, failureAction: .rollback, monitorSeconds: 5), health: check
        )
        setImage("web:bad", in: &cluster)
        let first = cluster.pass()
        let fresh = try #require(first.created.first)
        cluster.agentsAct(health: "starting")
        cluster.advance(1)
        cluster.tasks[fresh.id]?.health = "unhealthy"

        let plan = cluster.pass()
        let service = try #require(cluster.services["web"])
        #expect(service.updateStatus?.state == .rollbackStarted)
        #expect(service.updateStatus?.message == "update rolled back due to failure or early termination of task \(fresh.id)")
        #expect(service.spec.task.container.image == "web:1")
        #expect(service.previousSpec?.task.container.image == "web:bad")
        #expect(service.version == 3)
        #expect(plan.created.map(\.image) == ["web:1"], "the bad slot gets the old image back")
        #expect(cluster.tasks[fresh.id]?.desiredState == .shutdown)

        cluster.agentsAct(health: "healthy")
        #expect(cluster.pass().services.first?.updateStatus?.state == .rollbackCompleted)
        #expect(images(cluster) == ["web:1", "web:1", "web:1"])
        #expect(cluster.pass().isEmpty)
    }

    @Test func failureActionPauseStops() throws {
        var cluster = running(replicas: 3, update: UpdateConfig(parallelism: 1, failureAction: .pause, monitorSeconds: 5))
        cluster.services["web"]?.spec.task.restartPolicy = RestartPolicy(condition: .none)
        setImage("web:crash", in: &cluster)
        let fresh = try #require(cluster.pass().created.first)
        cluster.agentsAct()
        cluster.advance(1)
        cluster.report(fresh.id, .failed, exitCode: 1)
        cluster.pass()
        #expect(cluster.services["web"]?.updateStatus?.state == .paused)
        #expect(cluster.services["web"]?.updateStatus?.failedTaskIDs == [fresh.id])
        cluster.advance(60)
        #expect(cluster.pass().created.isEmpty, "a paused update does not continue")
        #expect(images(cluster) == ["web:1", "web:1"])
    }

    @Test func continuesFromStoredStateAfterRestart() throws {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 1, monitorSeconds: 0))
        setImage("web:2", in: &cluster)
        cluster.pass()
        // A new manager with the same store: a fresh reconciler, nothing in memory.
        cluster.reconciler = Reconciler(configuration: .init(heartbeatGraceSeconds: 3600, stageTimeoutSeconds: 0))
        cluster.agentsAct()
        #expect(cluster.pass().created.map(\.slot) == [2])
        cluster.agentsAct()
        cluster.pass()
        #expect(cluster.services["web"]?.updateStatus?.state == .completed)
    }

    @Test func scaleWithoutTemplateChangeDoesNotRoll() {
        var cluster = running(replicas: 2, update: UpdateConfig(parallelism: 1, monitorSeconds: 0))
        cluster.services["web"]?.version += 1
        cluster.services["web"]?.spec.mode = .replicated(3)
        let plan = cluster.pass()
        #expect(plan.created.map(\.slot) == [3])
        #expect(plan.updated.allSatisfy { $0.desiredState == .running })
        #expect(cluster.services["web"]?.updateStatus == nil)
    }
}
