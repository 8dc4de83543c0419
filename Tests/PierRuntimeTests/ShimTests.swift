import PierTestSupport
import PierSpec
import Foundation
import Synchronization
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Containers run through pier-shim and real runc: logs, exit records, foreground mode,
/// signals, start failures, rotation, and a shim that outlives its parent.
@Suite("Shim", .requires(TestSupport.canRunContainers, "root, runc and busybox-static"), .timeLimit(.minutes(5)))
struct ShimTests {
    func shell(_ script: String, network: NetworkMode = .none) -> ContainerOptions {
        ContainerOptions(command: ["sh", "-c", script], network: network)
    }

    @Test("detached: stdout and stderr become CRI log lines; the exit file records the status")
    func detachedRun() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let before = Date()
            let launched = try await sandbox.launch(id, shell("echo out1; echo err1 >&2; echo out2; printf tail; exit 3"))
            let containerPID = try #require(launched.containerPID)
            #expect(containerPID > 1 && containerPID != launched.shimPID)
            #expect(await sandbox.runtime.waitForExit(pid: launched.shimPID) == .exited(0))
            let record = try #require(sandbox.runtime.exitRecord(layout: sandbox.layout(id)))
            #expect(record.exitCode == 3 && record.signal == nil && record.error == nil)
            #expect(record.finishedAt >= before.addingTimeInterval(-1) && record.finishedAt <= Date().addingTimeInterval(1))

            let lines = try CRILogLine.parse(sandbox.layout(id).logPath)
            #expect(
                lines.filter { $0.stream == "stdout" } == [
                    CRILogLine(stream: "stdout", tag: "F", text: "out1"), CRILogLine(stream: "stdout", tag: "F", text: "out2"),
                    CRILogLine(stream: "stdout", tag: "P", text: "tail"),
                ])
            #expect(lines.filter { $0.stream == "stderr" } == [CRILogLine(stream: "stderr", tag: "F", text: "err1")])
            // The shim deleted the container from runc.
            #expect(try await sandbox.runtime.runc.list().contains { $0.id == id } == false)
        }
    }

    @Test("foreground: one runc run for the whole life, same log and exit file")
    func foreground() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let launched = try await sandbox.launch(id, shell("echo hello; echo oops >&2; exit 5"), foreground: true)
            #expect(launched.containerPID == nil)
            let record = try #require(await sandbox.waitForExit(launched, id))
            #expect(record.exitCode == 5 && record.error == nil && record.signal == nil)
            let lines = try CRILogLine.parse(sandbox.layout(id).logPath)
            #expect(lines.contains(CRILogLine(stream: "stdout", tag: "F", text: "hello")))
            #expect(lines.contains(CRILogLine(stream: "stderr", tag: "F", text: "oops")))
            #expect(try await sandbox.runtime.runc.list().contains { $0.id == id } == false)
        }
    }

    @Test("killed by a signal: exit code 128 + N, detached and foreground")
    func signalExit() async throws {
        try await Sandbox.with { sandbox in
            for foreground in [false, true] {
                let id = TestSupport.newID()
                let launched = try await sandbox.launch(
                    id, ContainerOptions(command: ["sleep", "30"], network: .none), foreground: foreground)
                #expect(await TestSupport.waitUntil { sandbox.layout(id).containerPID() != nil })
                let state = try await sandbox.runtime.runc.state(id: id)
                #expect(state.status == "running")
                try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
                let record = try #require(await sandbox.waitForExit(launched, id))
                #expect(record.exitCode == 137, "foreground: \(foreground)")
                #expect(record.signal == 9, "foreground: \(foreground)")
            }
        }
    }

    @Test("a command that does not exist: runc's error in the exception and the exit file, nothing left")
    func missingCommand() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let error = await #expect(throws: ShimError.self) {
                try await sandbox.launch(id, ContainerOptions(command: ["/no/such/program"], network: .none))
            }
            guard case .startFailed(_, let message)? = error else {
                Issue.record("expected startFailed, got \(String(describing: error))")
                return
            }
            #expect(message.contains("/no/such/program") && message.contains("no such file or directory"))
            let record = try #require(sandbox.runtime.exitRecord(layout: sandbox.layout(id)))
            #expect(record.exitCode == 127)
            #expect(record.error == message)
            #expect(!OverlayRootfs.isMounted(sandbox.layout(id).rootfs))
            #expect(try await sandbox.runtime.runc.list().isEmpty)
            #expect(!sandbox.runtime.cgroups.exists(id: id))
        }
    }

    @Test("the log rotates past its size, keeping the configured number of files")
    func logRotation() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            var options = shell("i=1; while [ $i -le 300 ]; do echo \"line $i of the rotation test output\"; i=$((i+1)); done")
            options.logMaxSize = 4096
            options.logMaxFiles = 3
            let launched = try await sandbox.launch(id, options)
            #expect(try #require(await sandbox.waitForExit(launched, id)).exitCode == 0)
            let log = sandbox.layout(id).logPath
            let files = [log, URL(fileURLWithPath: log.path + ".1"), URL(fileURLWithPath: log.path + ".2")]
            for file in files {
                let size = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int)
                #expect(size > 0 && size <= 4096, "\(file.lastPathComponent) is \(size) bytes")
            }
            #expect(!FileManager.default.fileExists(atPath: log.path + ".3"))
            let newest = try CRILogLine.parse(log)
            #expect(newest.last == CRILogLine(stream: "stdout", tag: "F", text: "line 300 of the rotation test output"))
            // Nothing lost between the files that are kept: they hold consecutive lines.
            let kept = try (files.reversed().flatMap { try CRILogLine.parse($0) }).map(\.text)
            let numbers = kept.compactMap { Int($0.split(separator: " ")[1]) }
            #expect(numbers == Array((numbers.first ?? 0)...300))
        }
    }

    @Test("a line longer than 16 KiB is split into a partial and a final entry")
    func longLine() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let launched = try await sandbox.launch(id, shell("head -c 20000 /dev/zero | tr '\\000' x; echo; echo next"))
            #expect(try #require(await sandbox.waitForExit(launched, id)).exitCode == 0)
            let lines = try CRILogLine.parse(sandbox.layout(id).logPath)
            #expect(lines.map(\.tag) == ["P", "F", "F"])
            #expect(lines.map(\.text.count) == [16384, 20000 - 16384, 4])
        }
    }

    @Test("an orphaned shim keeps the container running; a non-child shim can be waited for")
    func orphanedShim() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let prepared = try await sandbox.runtime.prepare(
                LaunchRequest(
                    id: id, options: ContainerOptions(command: ["sleep", "30"], network: .none), image: ImageRunConfig(),
                    layers: [sandbox.layer], layout: sandbox.layout(id)))
            let ready = sandbox.root.appendingPathComponent("ready")
            let pidFile = sandbox.root.appendingPathComponent("shim.pid")
            // sh plays the agent: it starts the shim in the background and waits, until we
            // SIGKILL it. The shim must carry on without its parent.
            let script = "\"$0\" \"$@\" > \(ready.path) 2>> \(prepared.shim.shimLog.path) & echo $! > \(pidFile.path); wait"
            let agent = try Subprocess.spawn("/bin/sh", ["-c", script, try TestSupport.shimPath()] + prepared.shim.arguments)
            #expect(
                await TestSupport.waitUntil {
                    ((try? String(contentsOf: ready, encoding: .utf8)) ?? "").hasSuffix("\n")
                })
            let reply = try String(contentsOf: ready, encoding: .utf8)
            #expect(reply.hasPrefix("ready "), "\(reply)")
            let shimPID = try #require(
                Int32(try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            kill(agent, SIGKILL)
            #expect(await sandbox.runtime.waitForExit(pid: agent) == .signaled(SIGKILL))
            #expect(sandbox.runtime.isShimAlive(pid: shimPID, id: id))
            #expect(!sandbox.runtime.isShimAlive(pid: shimPID, id: "another"))
            let stat = try String(contentsOfFile: "/proc/\(shimPID)/stat", encoding: .utf8)
            let ppid = stat.split(separator: ")").last?.split(separator: " ").dropFirst().first.flatMap { Int32($0) }
            #expect(ppid != getpid() && ppid != agent, "the shim must have been reparented")

            // The waiter returns only once the container is killed, so only after `killSent`.
            let killSent = Mutex(false)
            let waiter = Task { (await sandbox.runtime.waitForExit(pid: shimPID), killSent.withLock { $0 }) }
            #expect(sandbox.runtime.isShimAlive(pid: shimPID, id: id))
            #expect(try await sandbox.runtime.runc.state(id: id).status == "running")
            killSent.withLock { $0 = true }
            try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
            let (exit, afterKill) = await waiter.value
            #expect(exit == .unknown)
            #expect(afterKill, "waitForExit returned while the shim still ran")
            #expect(!sandbox.runtime.isShimAlive(pid: shimPID, id: id))
            let record = try #require(sandbox.runtime.exitRecord(layout: sandbox.layout(id)))
            #expect(record.exitCode == 137 && record.signal == 9)
        }
    }

    @Test("the shim refuses bad arguments with an error line")
    func badArguments() async throws {
        let result = try Subprocess.run(try TestSupport.shimPath(), ["--id", "x", "--bundle", "relative"])
        #expect(result.exit == .exited(2))
        #expect(result.stdoutText.hasPrefix("error "))
    }
}
