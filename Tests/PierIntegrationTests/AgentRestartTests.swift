import Foundation
import PierRuntime
import Testing
@testable import PierAgent

/// The agent can die at any moment: containers keep running, and the next agent adopts them.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct AgentRestartTests {
    @Test func containersSurviveSigkillAndAreAdopted() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let survivorID = try agent.ok("run", "-d", "--name", "survivor", "--network", "none", "test/busybox:1",
                                      "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        // Exits while the agent is down (when the test lets it); its restart policy must still apply.
        let gate = agent.root.appendingPathComponent("gate")
        try FileManager.default.createDirectory(at: gate, withIntermediateDirectories: true)
        let enderID = try agent.ok("run", "-d", "--name", "ender", "--network", "none", "--restart", "on-failure:1", "-v", "\(gate.path):/gate",
                                   "test/busybox:1", "sh", "-c", "while [ ! -e /gate/go ]; do sleep 0.05; done; rm /gate/go; exit 5")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(waitUntil(30) {
            let ps = (try? agent.pier("ps", "--format", "json").stdout) ?? ""
            return ps.components(separatedBy: "\"running\"").count - 1 == 2
        }, "survivor and ender did not both run")
        let before = try agent.ok("inspect", "survivor")
        agent.kill9()
        // With nobody watching: ender exits, and survivor keeps writing its log.
        let survivorLog = agent.root.appendingPathComponent("containers/\(survivorID)/container.log")
        let logSize = { ((try? FileManager.default.attributesOfItem(atPath: survivorLog.path))?[.size] as? Int) ?? 0 }
        let sizeAtKill = logSize()
        FileManager.default.createFile(atPath: gate.appendingPathComponent("go").path, contents: nil)
        let enderPID = agent.root.appendingPathComponent("containers/\(enderID)/init.pid")
        #expect(waitUntil(30) { !ContainerProbe.containerRuns(pidFile: enderPID) }, "ender did not exit while the agent was down")
        #expect(waitUntil(30) { logSize() > sizeAtKill }, "survivor's log did not grow while the agent was down")
        try agent.start()
        let ps = try agent.ok("ps", "--format", "json")
        #expect(ps.contains("\"survivor\""))
        // Same process: adopted, not restarted.
        let pidBefore = try #require(try initPID(before))
        #expect(try initPID(try agent.ok("inspect", "survivor")) == pidBefore)
        // The exit that happened while the agent was down is recorded, and on-failure restarted it
        // once (the restarted ender waits at the gate again).
        var ender = ""
        #expect(waitUntil(30) {
            ender = (try? agent.pier("inspect", "ender").stdout) ?? ""
            return ender.contains("\"restartCount\" : 1") || ender.contains("\"restartCount\":1")
        }, "ender was not restarted: \(ender)")
        // The second exit is final.
        FileManager.default.createFile(atPath: gate.appendingPathComponent("go").path, contents: nil)
        #expect(waitUntil(30) {
            ender = (try? agent.pier("inspect", "ender").stdout) ?? ""
            return ender.contains("\"exited\"")
        }, "ender did not exit: \(ender)")
        #expect(ender.contains("\"exitCode\" : 5") || ender.contains("\"exitCode\":5"), "\(ender)")
        #expect(ender.contains("\"restartCount\" : 1") || ender.contains("\"restartCount\":1"), "\(ender)")
        try agent.ok("stop", "-t", "1", "survivor")
    }

    /// An exited container's teardown runs a second after its exit is recorded; an agent killed
    /// in that second finishes it at its next start: no network namespace or mount is left.
    @Test func teardownPendingAtAKillIsFinishedByTheNextAgent() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let id = try agent.ok("run", "-d", "--name", "brief", "test/busybox:1", "sh", "-c", "sleep 0.3").trimmingCharacters(in: .whitespacesAndNewlines)
        let namespace = "pier-" + id.prefix(12)
        let marker = agent.root.appendingPathComponent("containers/\(id)/cleanup-pending").path
        // The marker is written as the exit is recorded and removed by the teardown a second
        // later: watched on disk (no process spawned per look), the kill lands inside that second.
        let pending = waitUntil(30, every: 0.002) { FileManager.default.fileExists(atPath: marker) }
        let namespaceThere = FileManager.default.fileExists(atPath: "/var/run/netns/" + namespace)
        agent.kill9()
        try #require(pending, "the container's exit was not recorded")
        #expect(namespaceThere, "the teardown had already run when the agent was killed")
        try agent.start()
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(!FileManager.default.fileExists(atPath: "/var/run/netns/" + namespace), "the network namespace outlived the restart")
        #expect(!agent.mountsBelowRoot().contains { $0.contains(id) }, "a mount of the exited container is left")
        #expect(try agent.ok("inspect", "brief").contains("\"exited\""))
        try agent.ok("rm", "brief")
    }

    /// A `--rm` container's record is deleted and its exit reported before its teardown runs; an
    /// agent killed in between leaves a directory without a record, which the next agent tears
    /// down: no mount, cgroup or directory is left. (The window is ~1.5 ms, so the state is made
    /// by hand: the agent is killed while the container runs, its record is deleted, and the
    /// container exits while no agent watches.)
    @Test func removedContainerNotYetTornDownAtAKillIsTornDownByTheNextAgent() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let id = try agent.ok("run", "-d", "--rm", "--network", "none", "--name", "brief", "test/busybox:1", "sh", "-c", "sleep 0.5")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let directory = agent.root.appendingPathComponent("containers/\(id)")
        #expect(agent.mountsBelowRoot().contains { $0.contains(id) })
        #expect(Cgroups().exists(id: id), "no cgroup for the running container")
        agent.kill9()
        try AgentDatabase(path: agent.root.appendingPathComponent("agent.db")).delete(id)
        let shim = agent.root.appendingPathComponent("containers/\(id)/init.pid")
        for _ in 0..<100 where ContainerProbe.containerRuns(pidFile: shim) { usleep(20_000) }
        #expect(!ContainerProbe.containerRuns(pidFile: shim), "the container did not exit")
        #expect(FileManager.default.fileExists(atPath: directory.path))
        try agent.start()
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(!agent.mountsBelowRoot().contains { $0.contains(id) }, "the removed container's mount outlived the restart")
        #expect(!Cgroups().exists(id: id), "the removed container's cgroup outlived the restart")
        var gone = false
        for _ in 0..<50 where !gone {
            gone = !FileManager.default.fileExists(atPath: directory.path)
            if !gone { usleep(20_000) }
        }
        #expect(gone, "the removed container's directory outlived the restart")
    }

    /// The agent's pool of pre-connected network namespaces (`--network-pool`): filled after the
    /// first bridge container, taken and handed back by containers, adopted by the next agent
    /// after a kill, and removed by a graceful stop.
    @Test func networkPoolOutlivesAKillAndGoesWithAGracefulStop() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let results = agent.root.appendingPathComponent("cni/results")
        /// Pool entries on disk: namespace → address.
        func pool() -> [String: String] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: results.path)) ?? []
            var entries: [String: String] = [:]
            for name in names where name.hasPrefix("pool-") && name.hasSuffix(".json") {
                guard let data = try? Data(contentsOf: results.appendingPathComponent(name)),
                    let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                    let namespace = state["namespace"] as? String, let text = state["result"] as? String,
                    let result = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                    let address = (result["ips"] as? [[String: Any]])?.first?["address"] as? String
                else { continue }
                entries[namespace] = String(address.split(separator: "/")[0])
            }
            return entries
        }
        func exists(_ namespace: String) -> Bool { FileManager.default.fileExists(atPath: "/var/run/netns/" + namespace) }
        func waitFor(_ what: () -> Bool) -> Bool {
            for _ in 0..<200 where !what() { usleep(100_000) }
            return what()
        }

        #expect(try agent.ok("run", "--rm", "test/busybox:1", "true").isEmpty)
        #expect(waitFor { pool().count == 2 }, "the pool did not fill: \(pool())")
        let filled = pool()
        #expect(filled.keys.allSatisfy(exists))
        let info = try #require(try JSONSerialization.jsonObject(with: Data(try agent.ok("info", "--format", "json").utf8)) as? [String: Any])
        let network = try #require(info["network"] as? [String: Any])
        #expect(network["poolSize"] as? Int == 2 && network["pooled"] as? Int == 2)
        #expect(try agent.ok("info").contains("2 of 2 pooled namespaces ready"))

        // A bridge container gets one of the pool's addresses, and its namespace comes back when it is gone.
        let id = try agent.ok("run", "-d", "--name", "pooled", "test/busybox:1", "sleep", "100").trimmingCharacters(in: .whitespacesAndNewlines)
        let inspected = try #require(try JSONSerialization.jsonObject(with: Data(try agent.ok("inspect", id).utf8)) as? [[String: Any]])
        let address = try #require(inspected.first?["ipAddress"] as? String)
        let taken = try #require(filled.first { $0.value == address }?.key, "\(address) is not one of the pool's \(filled)")
        #expect(pool()[taken] == nil)
        try agent.ok("rm", "-f", id)
        #expect(waitFor { pool()[taken] == address })

        // Killed: the pool stays, and the next agent takes it over as it is.
        #expect(waitFor { pool().count == 2 })
        let before = pool()
        agent.kill9()
        #expect(before.keys.allSatisfy(exists))
        try agent.start()
        #expect(pool() == before)
        #expect(before.keys.allSatisfy(exists))

        // Stopped: nothing of the pool is left.
        agent.stopGracefully()
        #expect(pool().isEmpty)
        #expect(!before.keys.contains(where: exists))
        let rules = try runProcess("/usr/sbin/iptables-save", []).stdout
        for namespace in before.keys { #expect(!rules.contains(String(namespace.dropFirst("pier-".count)))) }
    }

    @Test func killDuringImportLeavesNoHalfWrittenBlob() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let archive = agent.root.appendingPathComponent("big.tar")
        // An image with a large layer, exported, so the import takes a while.
        let ctx = agent.root.appendingPathComponent("bigctx")
        try FileManager.default.createDirectory(at: ctx, withIntermediateDirectories: true)
        try runProcess("/usr/bin/dd", ["if=/dev/urandom", "of=\(ctx.path)/blob", "bs=1M", "count=96"])
        try agent.ok("image", "build", "--tag", "test/big:1", "--from", "test/busybox:1", "--add", "\(ctx.path)/blob:/data/blob")
        try agent.ok("image", "export", "test/big:1", archive.path)
        try agent.ok("image", "rm", "test/big:1")
        try agent.ok("image", "prune")
        // Start the import and kill the agent while it streams.
        let p = Process()
        p.executableURL = Binaries.pier
        p.arguments = ["image", "import", archive.path]
        p.environment = ["PIER_HOST": agent.host]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // Kill the agent once the import is writing its layer (a partial blob in ingest/).
        let ingestDir = agent.root.appendingPathComponent("ingest")
        func partialBytes() -> Int {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: ingestDir.path)) ?? []
            return names.compactMap { (try? FileManager.default.attributesOfItem(atPath: ingestDir.appendingPathComponent($0).path))?[.size] as? Int }.max() ?? 0
        }
        let streaming = waitUntil(60, every: 0.002) { partialBytes() > 0 }
        agent.kill9()
        #expect(streaming, "the import never wrote to ingest/ before it ended")
        #expect(waitUntil(30) { !p.isRunning }, "pier image import did not end once the agent was gone")
        try agent.start()
        // Every blob present verifies; nothing is left in ingest or tmp.
        let blobs = agent.root.appendingPathComponent("blobs/sha256")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: blobs.path)) ?? [] {
            let sum = try runProcess("/usr/bin/sha256sum", [blobs.appendingPathComponent(name).path]).stdout
            #expect(sum.hasPrefix(name), "blob \(name) does not match its digest")
        }
        let ingest = (try? FileManager.default.contentsOfDirectory(atPath: agent.root.appendingPathComponent("ingest").path)) ?? []
        #expect(ingest.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: agent.root.appendingPathComponent("tmp").path))
        // And the import works when tried again.
        try agent.ok("image", "import", archive.path)
        #expect(try agent.ok("image", "ls").contains("test/big"))
    }

    @Test func killDuringUnpackLeavesNoHalfWrittenLayer() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        // Many small files make the unpack slow enough to be interrupted.
        let ctx = agent.root.appendingPathComponent("many")
        for d in 0..<40 {
            let dir = ctx.appendingPathComponent("d\(d)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for f in 0..<100 { try Data(repeating: UInt8(f), count: 2048).write(to: dir.appendingPathComponent("f\(f)")) }
        }
        try agent.ok("image", "build", "--tag", "test/many:1", "--from", "test/busybox:1", "--add", "\(ctx.path):/many")
        let layersDir = agent.root.appendingPathComponent("layers")
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: layersDir.path)) ?? [])
        let p = Process()
        p.executableURL = Binaries.pier
        p.arguments = ["run", "--rm", "--network", "none", "test/many:1", "true"]
        p.environment = ["PIER_HOST": agent.host]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        // Kill the agent as soon as an unpack directory appears (a temporary one: the unpack is under way).
        var appeared: Set<String> = []
        let unpacking = waitUntil(60, every: 0.001) {
            appeared = Set((try? FileManager.default.contentsOfDirectory(atPath: layersDir.path)) ?? []).subtracting(before)
            return !appeared.isEmpty
        }
        agent.kill9()
        #expect(unpacking, "no unpack started")
        #expect(appeared.contains { !($0.count == 64 && $0.allSatisfy(\.isHexDigit)) }, "the unpack had finished before the kill: \(appeared)")
        #expect(waitUntil(30) { !p.isRunning }, "pier run did not end once the agent was gone")
        try agent.start()
        // Whatever is in layers/ now is complete: only final directories named by a diff id.
        let after = (try? FileManager.default.contentsOfDirectory(atPath: layersDir.path)) ?? []
        for name in after {
            #expect(name.count == 64 && name.allSatisfy(\.isHexDigit), "leftover \(name) in layers/")
        }
        // And the image runs, its layer complete.
        let r = try agent.pier("run", "--rm", "--network", "none", "test/many:1", "sh", "-c", "ls /many/d39 | wc -l")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "100")
    }
}

/// The container's init pid from `pier inspect` output.
private func initPID(_ inspect: String) throws -> Int? {
    let details = try JSONSerialization.jsonObject(with: Data(inspect.utf8)) as? [[String: Any]]
    return details?.first?["pid"] as? Int
}

/// Whether the container whose init pid is in `pidFile` still runs.
enum ContainerProbe {
    static func containerRuns(pidFile: URL) -> Bool {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return false }
        return kill(pid, 0) == 0
    }
}
