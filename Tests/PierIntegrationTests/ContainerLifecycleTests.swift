import Foundation
import PierRuntime
import Testing

/// End to end through the real CLI, agent, shim, runc, overlayfs and cgroups. Needs root.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct ContainerLifecycleTests {
    @Test func foregroundRunStreamsOutputAndExitsWithTheContainersCode() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let r = try agent.pier("run", "--rm", "--network", "none", "test/busybox:1", "sh", "-c", "echo out; echo err >&2; exit 3")
        #expect(r.status == 3)
        #expect(r.stdout == "out\n")
        #expect(r.stderr.contains("err"))
        // --rm: gone from the agent's state when pier returns…
        #expect(try agent.pier("ps", "-a", "-q").stdout.isEmpty)
        // …and its mount and directory right after (torn down once the exit was reported).
        var leftovers: [String] = []
        var mounts: [String] = []
        for _ in 0..<40 {
            leftovers = (try? FileManager.default.contentsOfDirectory(atPath: agent.root.appendingPathComponent("containers").path)) ?? []
            mounts = agent.mountsBelowRoot()
            if leftovers.isEmpty && mounts.isEmpty { break }
            usleep(50_000)
        }
        #expect(leftovers.isEmpty)
        #expect(mounts.isEmpty)
    }

    @Test func detachedContainerLogsStopAndRemove() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let id = try agent.ok("run", "-d", "--name", "ticker", "--network", "none", "test/busybox:1",
                              "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count >= 12)
        // Running, with at least three lines written: then --tail 2 has exactly two.
        #expect(waitUntil(30) {
            let ps = (try? agent.pier("ps", "--format", "json").stdout) ?? ""
            let lines = (try? agent.pier("logs", "ticker").stdout)?.split(separator: "\n").count ?? 0
            return ps.contains("\"ticker\"") && ps.contains("\"running\"") && lines >= 3
        }, "ticker did not run and write three lines")
        let cgroups = Cgroups()
        #expect(cgroups.exists(id: id), "no cgroup for the running container at \(cgroups.directory(controller: "pids", id: id).path)")
        let logs = try agent.ok("logs", "--tail", "2", "ticker")
        #expect(logs.split(separator: "\n").count == 2)
        #expect(logs.hasPrefix("tick "))
        let inspect = try agent.ok("inspect", "ticker")
        #expect(inspect.contains(id))
        try agent.ok("stop", "-t", "1", "ticker")
        let after = try agent.ok("ps", "-a", "--format", "json")
        #expect(after.contains("\"exited\""))
        // A running container cannot be removed without -f; a stopped one can.
        try agent.ok("rm", "ticker")
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(agent.mountsBelowRoot().isEmpty)
        #expect(!cgroups.exists(id: id))
        #expect(!FileManager.default.fileExists(atPath: cgroups.directory(controller: "memory", id: id).path))
    }

    /// `pier restart` brings the same container back, a `--rm` one too (as `docker restart`); a
    /// forced removal asked for while a restart is under way waits for it and then removes the
    /// container: runc holds nothing the agent has no record of.
    @Test func restartKeepsTheContainerAndARemovalDuringItLeavesNothing() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        // Says when it starts and when its stop begins; the stop then takes 1 s more.
        try agent.ok("run", "-d", "--rm", "--name", "bouncer", "--network", "none", "test/busybox:1",
                     "sh", "-c", "echo started; trap 'echo stopping; sleep 1; exit 0' TERM; while true; do sleep 1; done")
        let id = try agent.ok("ps", "-a", "-q", "--no-trunc").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 64)
        func count(_ word: String) -> Int { ((try? agent.pier("logs", "bouncer").stdout) ?? "").components(separatedBy: word).count - 1 }
        func runc() -> [String] {
            let r = try? runProcess("/usr/sbin/runc", ["--root", agent.root.appendingPathComponent("runc").path, "list", "-q"])
            return (r?.stdout ?? "").split(separator: "\n").map(String.init)
        }
        #expect(waitUntil(10) { count("started") == 1 })
        try agent.ok("restart", "-t", "5", "bouncer")
        #expect(waitUntil(10) { count("started") == 2 }, "the container did not run again")
        let ps = try agent.ok("ps", "-a", "-q", "--no-trunc").split(separator: "\n").map(String.init)
        #expect(ps == [id], "the restart did not keep the container: \(ps)")
        #expect(try agent.ok("ps", "--format", "json").contains("\"running\""))
        #expect(runc() == [id])

        let restart = Process()
        restart.executableURL = Binaries.pier
        restart.arguments = ["restart", "-t", "5", "bouncer"]
        restart.environment = ProcessInfo.processInfo.environment.merging(["PIER_HOST": agent.host]) { $1 }
        restart.standardOutput = FileHandle.nullDevice
        restart.standardError = FileHandle.nullDevice
        try restart.run()
        defer { if restart.isRunning { kill(restart.processIdentifier, SIGKILL) } }
        #expect(waitUntil(10) { count("stopping") == 1 }, "the restart's stop did not begin")
        try agent.ok("rm", "-f", "bouncer")
        restart.waitUntilExit()
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(runc().isEmpty, "a runc container outlived its removal: \(runc())")
        #expect(waitUntil(10) { agent.mountsBelowRoot().isEmpty })
    }

    @Test func restartPolicyOnFailureStopsAfterTheLimit() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        try agent.ok("run", "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:2", "test/busybox:1", "sh", "-c", "echo run; exit 7")
        var details = ""
        for _ in 0..<100 {
            details = try agent.ok("inspect", "flaky")
            if details.contains("\"restartCount\" : 2") || details.contains("\"restartCount\":2"), details.contains("\"exited\"") { break }
            usleep(100_000)
        }
        #expect(details.contains("\"exited\""))
        #expect(details.contains("\"restartCount\" : 2") || details.contains("\"restartCount\":2"))
        #expect(try agent.ok("logs", "flaky").components(separatedBy: "run").count - 1 == 3)
    }

    @Test func healthCheckStatusShowsInPs() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        try agent.ok("run", "-d", "--name", "good", "--network", "none", "--health-cmd", "true", "--health-interval", "200ms",
                     "--health-retries", "1", "test/busybox:1", "sleep", "60")
        try agent.ok("run", "-d", "--name", "bad", "--network", "none", "--health-cmd", "exit 1", "--health-interval", "200ms",
                     "--health-retries", "2", "test/busybox:1", "sleep", "60")
        var ps = ""
        for _ in 0..<50 {
            ps = try agent.ok("ps")
            if ps.contains("(healthy)") && ps.contains("(unhealthy)") { break }
            usleep(100_000)
        }
        #expect(ps.contains("(healthy)"))
        #expect(ps.contains("(unhealthy)"))
    }

    @Test func execStatsAndLimits() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let id = try agent.ok("run", "-d", "--name", "lim", "--network", "none", "-m", "64m", "--pids-limit", "20", "--cpus", "0.5",
                              "test/busybox:1", "sleep", "60").trimmingCharacters(in: .whitespacesAndNewlines)
        let exec = try agent.pier("exec", "lim", "sh", "-c", "echo inside; exit 4")
        #expect(exec.status == 4)
        #expect(exec.stdout == "inside\n")
        // Where the runtime puts the container's cgroup, on v1 or v2.
        let cgroups = Cgroups()
        let file = cgroups.version == .v1 ? "memory.limit_in_bytes" : "memory.max"
        let limit = try String(contentsOf: cgroups.directory(controller: "memory", id: id).appendingPathComponent(file), encoding: .utf8)
        #expect(limit.trimmingCharacters(in: .whitespacesAndNewlines) == "\(64 << 20)")
        let stats = try agent.ok("stats", "--no-stream", "--format", "json", "lim")
        #expect(stats.contains("\"memoryLimitBytes\"") && stats.contains("\(64 << 20)"))
        #expect(stats.contains("\"pids\""))
    }

    @Test func declaredDeviceIsTheOnlyHostDeviceVisible() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let dev = agent.root.appendingPathComponent("sensor0")
        #expect(mknod(dev.path, S_IFCHR | 0o666, dev_t((1 << 8) | 5)) == 0)
        let r = try agent.pier("run", "--rm", "--network", "none", "--device", "\(dev.path):/dev/sensor0:r", "test/busybox:1",
                               "sh", "-c", "dd if=/dev/sensor0 bs=4 count=1 2>/dev/null | wc -c; ls /dev/kmsg /dev/mem 2>&1 | wc -l; ls /dev")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("4\n"))
        #expect(r.stdout.contains("sensor0"))
        #expect(!r.stdout.contains("kmsg"))
    }

    @Test func badInputLeavesNothingBehind() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let unknown = try agent.pier("run", "--rm", "no/such:image", "true")
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no/such"))
        let memory = try agent.pier("run", "-d", "-m", "64x", "test/busybox:1", "true")
        #expect(memory.status != 0)
        #expect(memory.stderr.lowercased().contains("memory"))
        let device = try agent.pier("run", "-d", "--device", "/dev/gpiochip99", "test/busybox:1", "true")
        #expect(device.status != 0)
        #expect(device.stderr.contains("/dev/gpiochip99"))
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(agent.mountsBelowRoot().isEmpty)
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: agent.root.appendingPathComponent("containers").path)) ?? []
        #expect(dirs.isEmpty)
    }

    @Test func logsFollowStreamsUntilTheContainerExits() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        // The container writes three lines, then waits for the test to let it finish.
        let gate = agent.root.appendingPathComponent("gate")
        try FileManager.default.createDirectory(at: gate, withIntermediateDirectories: true)
        try agent.ok("run", "-d", "--name", "talker", "--network", "none", "-v", "\(gate.path):/gate", "test/busybox:1",
                     "sh", "-c", "for i in 1 2 3; do echo line $i; done; while [ ! -e /gate/go ]; do sleep 0.05; done; echo line 4; echo line 5")
        let output = agent.root.appendingPathComponent("follow.out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        let follow = Process()
        follow.executableURL = Binaries.pier
        follow.arguments = ["logs", "-f", "talker"]
        follow.environment = ProcessInfo.processInfo.environment.merging(["PIER_HOST": agent.host]) { $1 }
        follow.standardOutput = handle
        follow.standardError = FileHandle.nullDevice
        try follow.run()
        defer { if follow.isRunning { kill(follow.processIdentifier, SIGKILL); follow.waitUntilExit() } }
        func written() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        // It streams what is there and keeps following while the container runs.
        #expect(waitUntil(30) { written() == "line 1\nline 2\nline 3\n" }, "logs -f wrote \(written())")
        #expect(follow.isRunning, "logs -f returned while the container still ran")
        FileManager.default.createFile(atPath: gate.appendingPathComponent("go").path, contents: nil)
        #expect(waitUntil(30) { !follow.isRunning }, "logs -f did not return once the container exited")
        #expect(!follow.isRunning && follow.terminationStatus == 0)
        #expect(written() == "line 1\nline 2\nline 3\nline 4\nline 5\n")
    }

    @Test func aSigningPolicyRunsOnlyImagesSignedByATrustedKey() throws {
        let keys = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-keys-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: keys) }
        #expect(try runProcess(Binaries.pier.path, ["key", "create", "dev", "-o", keys]).status == 0)
        #expect(try runProcess(Binaries.pier.path, ["key", "create", "other", "-o", keys]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: keys + "/dev.key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try runProcess(Binaries.pier.path, ["key", "create", "dev", "-o", keys])
        #expect(again.status != 0 && again.stderr.contains("not overwriting"))

        let agent = try TestAgent(arguments: ["--trust-key", keys + "/dev.pub"])
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let unsigned = try agent.pier("run", "--rm", "--network", "none", "test/busybox:1", "true")
        #expect(unsigned.status == 125 && unsigned.stderr.contains("not signed by a trusted key"), "\(unsigned.stderr)")
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        try agent.ok("image", "sign", "--key", keys + "/other.key", "test/busybox:1")
        #expect(try agent.pier("run", "--rm", "--network", "none", "test/busybox:1", "true").status == 125)
        #expect(try agent.pier("image", "verify", "--key", keys + "/dev.pub", "test/busybox:1").status == 1)
        try agent.ok("image", "sign", "--key", keys + "/dev.key", "test/busybox:1")
        #expect(try agent.pier("image", "verify", "--key", keys + "/dev.pub", "test/busybox:1").status == 0)
        // The second key added its signature; the first one's is still there, and signing again
        // with a key replaces only its own.
        #expect(try agent.pier("image", "verify", "--key", keys + "/other.pub", "test/busybox:1").status == 0)
        try agent.ok("image", "sign", "--key", keys + "/other.key", "test/busybox:1")
        #expect(try agent.pier("image", "verify", "--key", keys + "/dev.pub", "test/busybox:1").status == 0)
        #expect(try agent.pier("image", "verify", "--key", keys + "/other.pub", "test/busybox:1").status == 0)
        let signed = try agent.pier("run", "--rm", "--network", "none", "test/busybox:1", "echo", "trusted")
        #expect(signed.status == 0 && signed.stdout.contains("trusted"), "\(signed.stderr)")
        // Signatures are not images: `image ls` lists the image once.
        #expect(try agent.ok("image", "ls", "-q").split(separator: "\n").count == 1)
        // A key file that is not there: a clear error, nothing signed.
        let bad = try agent.pier("image", "sign", "--key", keys + "/missing.key", "test/busybox:1")
        #expect(bad.status != 0 && bad.stderr.contains("--key"))
    }
}
