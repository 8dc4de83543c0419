import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Process watcher")
struct ProcessWatcherTests {
    @Test("a child's exit status is reaped and returned")
    func childExit() async throws {
        let pid = try Subprocess.spawn("/bin/sh", ["-c", "exit 7"])
        #expect(await ProcessWatcher.waitForExit(pid: pid) == .exited(7))
        #expect(!ProcessWatcher.isRunning(pid: pid) || kill(pid, 0) != 0)
    }

    @Test("a child killed by a signal")
    func childSignaled() async throws {
        let pid = try Subprocess.spawn("/bin/sleep", ["30"])
        #expect(ProcessWatcher.isRunning(pid: pid))
        let waiter = Task { await ProcessWatcher.waitForExit(pid: pid) }
        try await Task.sleep(for: .milliseconds(50))
        kill(pid, SIGTERM)
        let exit = await waiter.value
        #expect(exit == .signaled(SIGTERM))
        #expect(exit.exitCode == 128 + SIGTERM)
    }

    @Test("a process that is not our child: its end is seen, its status is unknown")
    func nonChild() async throws {
        // sh starts a waiter in the background and exits, so the waiter is reparented away from
        // us; it ends only once the test creates the gate file.
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gate = dir.appendingPathComponent("go").path
        let r = try Subprocess.run("/bin/sh", ["-c", "(while [ ! -e \(gate) ]; do sleep 0.02; done) >/dev/null 2>&1 & echo $!"])
        let pid = try #require(Int32(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ProcessWatcher.isRunning(pid: pid))
        // The watcher returns only after the process ended, so only after the gate existed.
        let watcher = Task { (await ProcessWatcher.waitForExit(pid: pid), FileManager.default.fileExists(atPath: gate)) }
        #expect(FileManager.default.createFile(atPath: gate, contents: nil))
        let (exit, gateWasThere) = await watcher.value
        #expect(exit == .unknown)
        #expect(gateWasThere, "waitForExit returned while the process still waited for the gate")
        #expect(!ProcessWatcher.isRunning(pid: pid))
    }

    @Test("a pid that does not exist returns at once")
    func gone() async {
        #expect(await ProcessWatcher.waitForExit(pid: 0x3fff_fff0) == .unknown)
    }
}
