import PierTestSupport
import Foundation
import Testing

/// `pier restart` of a service task's container on a joined agent, through the agent's own
/// socket, behaves as `docker restart` of a swarm task's container on a worker: the container
/// restarts in place and its task stays the same, running task; the manager replaces nothing.
/// Whatever the manager decides meanwhile, no runc container outlives the agent's records.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct TaskRestartTests {
    static let image = TestCluster.image
    /// Says when it starts (a restart shows in its log) and exits 0 on SIGTERM.
    static let command = ["sh", "-c", "echo started; trap 'exit 0' TERM; while true; do sleep 1; done"]

    /// Every container the agent holds (`pier ps -a` on its socket).
    static func containers(_ cluster: TestCluster, _ m: TestCluster.Member) throws -> [ContainerView] {
        let r = try cluster.agentPier(m, ["ps", "-a", "--format", "json"])
        guard r.status == 0 else { throw TestFailure("pier ps -a on \(m.name) failed: \(r.stderr)") }
        return try JSONDecoder().decode([ContainerView].self, from: Data(r.stdout.utf8))
    }

    /// The containers runc itself holds under the agent's data root, whatever the agent recorded.
    static func runcContainers(_ m: TestCluster.Member) throws -> [String] {
        let r = try runProcess("/usr/sbin/runc", ["--root", m.root.appendingPathComponent("runc").path, "list", "-q"])
        guard r.status == 0 else { throw TestFailure("runc list failed: \(r.stderr)") }
        return r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// The service's only task, running, and its container on `m`.
    static func deploy(
        _ cluster: TestCluster, _ m: TestCluster.Member, command: [String] = Self.command
    ) throws -> (task: TaskView, container: String) {
        try cluster.ok(["service", "create", "--name", "web", "--network", "none", Self.image] + command)
        var found: (TaskView, String)?
        let up = cluster.waitUntil(30, every: 0.2) {
            let tasks = try cluster.running("web")
            let running = try containers(cluster, m).filter { $0.state == "running" }
            guard tasks.count == 1, running.count == 1, running[0].labels["pier.task.id"] == tasks[0].id else { return false }
            found = (tasks[0], running[0].id)
            return true
        }
        guard up, let found else { throw TestFailure("the service did not start: \(cluster.describe("web"))") }
        return found
    }

    @Test func restartOfATaskContainerKeepsTheTaskRunning() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        let (task, container) = try Self.deploy(cluster, a)

        let r = try cluster.agentPier(a, ["restart", "-t", "5", container])
        #expect(r.status == 0, "restart failed: \(r.stderr)\n\(cluster.log(cluster.agentLog(a)))")
        // The process really started again: its log says so twice.
        let restarted = cluster.waitUntil(10) {
            try cluster.agentPier(a, ["logs", container]).stdout.components(separatedBy: "started").count - 1 == 2
        }
        #expect(restarted, "the container did not run its command again: \((try? cluster.agentPier(a, ["logs", container]).stdout) ?? "")")

        // The manager replaced the task about 1 s after a restart took its stop for the task's
        // end: everything must hold for several heartbeats, not only at one instant.
        var detail = ""
        let deadline = Date().addingTimeInterval(5)
        var steady = true
        while Date() < deadline && steady {
            let tasks = try cluster.tasks("web")
            let held = try Self.containers(cluster, a)
            let runc = try Self.runcContainers(a)
            detail = "tasks: \(tasks.map { "\($0.id) \($0.status.state)/\($0.desiredState)" }); "
                + "agent: \(held.map { "\($0.id.prefix(12)) \($0.state)" }); runc: \(runc.map { $0.prefix(12) })"
            steady = tasks.count == 1 && tasks[0].id == task.id && tasks[0].status.state == "running" && tasks[0].desiredState == "running"
                && held.count == 1 && held[0].id == container && held[0].state == "running"
                && runc == [container]
            if steady { usleep(200_000) }
        }
        let agentLog = cluster.log(cluster.agentLog(a))
        #expect(steady, "the restart did not keep the task as it was: \(detail)\n\(cluster.describe("web"))\n\(agentLog)")
        let ps = try cluster.ok("service", "ps", "web", "-q").split(separator: "\n")
        #expect(ps.count == 1, "service ps shows a replacement: \(ps)")
    }

    /// A restart while the manager wants the task gone (scaled to 0): the container ends up
    /// removed, and runc holds nothing the agent does not know about.
    @Test func restartWhileTheTaskIsScaledAwayLeavesNoContainer() throws {
        let cluster = try TestCluster.start(agents: 1)
        defer { cluster.tearDown() }
        let a = try cluster.member("node-a")
        // Says when its stop begins and takes 2 s more to end: the scale lands during the restart's stop.
        let slowStop = ["sh", "-c", "echo started; trap 'echo stopping; sleep 2; exit 0' TERM; while true; do sleep 1; done"]
        let (_, container) = try Self.deploy(cluster, a, command: slowStop)

        let restart = Process()
        restart.executableURL = Binaries.pier
        restart.arguments = ["restart", "-t", "10", container]
        restart.environment = ProcessInfo.processInfo.environment.merging(["PIER_HOST": a.host]) { $1 }
        let errors = cluster.root.appendingPathComponent("restart.err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        restart.standardOutput = FileHandle.nullDevice
        restart.standardError = try FileHandle(forWritingTo: errors)
        try restart.run()
        defer { if restart.isRunning { kill(restart.processIdentifier, SIGKILL) } }
        let stopping = cluster.waitUntil(10, every: 0.05) { try cluster.agentPier(a, ["logs", container]).stdout.contains("stopping") }
        #expect(stopping, "the restart's stop did not begin")
        try cluster.ok("service", "scale", "web=0")
        let finished = cluster.waitUntil(60) { !restart.isRunning }
        #expect(finished, "pier restart did not return")
        // The restart came first: it restarts the container, which the scale then removes.
        #expect(finished && restart.terminationStatus == 0, "restart failed: \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")

        var detail = ""
        let gone = cluster.waitUntil(30, every: 0.2) {
            let held = try Self.containers(cluster, a)
            let runc = try Self.runcContainers(a)
            detail = "agent: \(held.map { "\($0.id.prefix(12)) \($0.state)" }); runc: \(runc.map { $0.prefix(12) })"
            return held.isEmpty && runc.isEmpty
        }
        let agentLog = cluster.log(cluster.agentLog(a))
        #expect(gone, "the scaled-away task's container was left behind: \(detail)\n\(cluster.describe("web"))\n\(agentLog)")
        #expect(try cluster.running("web").isEmpty)
        // Nothing outside the records, checked once more after the agent has had time to settle.
        usleep(2_000_000)
        #expect(try Self.runcContainers(a).isEmpty, "an orphan runc container appeared")
        #expect(try Self.containers(cluster, a).isEmpty)
    }
}
