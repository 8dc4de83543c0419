import PierTestSupport
import Foundation
import Testing

/// The test helpers' process reader: a deadline that fires while the child keeps its pipes open,
/// and no wait for a grandchild that inherited them.
@Suite(.timeLimit(.minutes(1)))
struct ProcessOutputTests {
    static func run(_ script: String, timeout: TimeInterval) throws -> TestProcess.Result {
        try TestProcess.run("/bin/sh", ["-c", script], environment: ProcessInfo.processInfo.environment, timeout: timeout)
    }

    @Test func bothStreamsAreReadInFullWithoutBlockingTheChild() throws {
        // More than a pipe holds on each stream, written alternately.
        let r = try Self.run("i=0; while [ $i -lt 2000 ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done; exit 3", timeout: 60)
        #expect(!r.timedOut)
        #expect(r.status == 3)
        #expect(String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").count == 2000)
        #expect(String(decoding: r.stderr, as: UTF8.self).hasSuffix("err-1999\n"))
    }

    @Test func theDeadlineKillsAChildThatNeverEnds() throws {
        let started = Date()
        let r = try Self.run("echo started; exec sleep 1000", timeout: 1)
        #expect(r.timedOut)
        #expect(r.status == SIGKILL)
        #expect(String(decoding: r.stdout, as: UTF8.self) == "started\n")
        #expect(Date().timeIntervalSince(started) < 60, "the reader waited for the child instead of killing it")
    }

    @Test func theChildStartsWithNoSignalBlocked() throws {
        let r = try Self.run("grep SigBlk /proc/self/status", timeout: 60)
        #expect(String(decoding: r.stdout, as: UTF8.self) == "SigBlk:\t0000000000000000\n")
    }

    @Test func aGrandchildHoldingThePipesIsNotWaitedFor() throws {
        let started = Date()
        let r = try Self.run("sleep 1000 & echo $!; echo done", timeout: 60)
        #expect(!r.timedOut && r.status == 0)
        let lines = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n")
        #expect(lines.last == "done")
        #expect(Date().timeIntervalSince(started) < 30)
        if let pid = lines.first.flatMap({ Int32($0) }) { kill(pid, SIGKILL) }
    }
}
