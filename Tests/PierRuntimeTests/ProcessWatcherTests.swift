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
        // sh starts sleep in the background and exits, so sleep is reparented away from us.
        let r = try Subprocess.run("/bin/sh", ["-c", "sleep 0.3 >/dev/null 2>&1 & echo $!"])
        let pid = try #require(Int32(r.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ProcessWatcher.isRunning(pid: pid))
        let started = ContinuousClock.now
        #expect(await ProcessWatcher.waitForExit(pid: pid) == .unknown)
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(!ProcessWatcher.isRunning(pid: pid))
    }

    @Test("a pid that does not exist returns at once")
    func gone() async {
        #expect(await ProcessWatcher.waitForExit(pid: 0x3fff_fff0) == .unknown)
    }
}
