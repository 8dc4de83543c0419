import PierTestSupport
import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierClient

/// The `pier` executable next to this test bundle (or `PIER_BINARY`); built by `swift build` of the full package.
enum PierBinary {
    static let path: String? = {
        if let path = ProcessInfo.processInfo.environment["PIER_BINARY"] { return path }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("pier").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return nil
    }()

    /// Runs `pier` with `arguments`; returns its exit status, stdout and stderr. Both pipes are
    /// read as they fill; a `pier` still running after `timeout` seconds is killed (SIGKILL), an
    /// issue is recorded and this throws, so a hang fails the test instead of the suite.
    static func run(_ arguments: [String], timeout: TimeInterval = 60, sourceLocation: SourceLocation = #_sourceLocation) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let path = try #require(path, "no pier executable near the test bundle; build the full package or set PIER_BINARY")
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "PIER_HOST")
        let output = try TestProcess.run(path, arguments, environment: environment, timeout: timeout, inheritStdin: true)
        let stderr = String(decoding: output.stderr, as: UTF8.self)
        if output.timedOut {
            let message = "pier \(arguments.joined(separator: " ")) was still running after \(Int(timeout)) s and was killed; stderr: \(stderr.suffix(2000))"
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            throw PierTimedOut(description: message)
        }
        return (output.status, String(decoding: output.stdout, as: UTF8.self), stderr)
    }

    struct PierTimedOut: Error, CustomStringConvertible {
        let description: String
    }

    /// With `PIER_ONLY` the executable is not part of the build; everywhere else these tests must run.
    static let available = path != nil || ProcessInfo.processInfo.environment["PIER_ONLY"] == nil
}

@Suite("The pier command line", .enabled(if: PierBinary.available), .timeLimit(.minutes(5)))
struct CommandLineTests {
    static func streamAnswer(stdout: String, exitCode: Int32) -> FakeAgent.Response {
        .init(status: 200, contentType: "application/vnd.pier.stream", chunks: [
            StreamFrame(kind: .stdout, payload: Array(stdout.utf8)).encoded(),
            StreamFrame(kind: .exit, payload: Array(#"{"exitCode":\#(exitCode)}"#.utf8)).encoded(),
        ])
    }

    @Test func everythingAfterTheImageBelongsToTheContainer() throws {
        let agent = try FakeAgent { _ in Self.streamAnswer(stdout: "total 0\n", exitCode: 3) }
        defer { agent.stop() }
        let result = try PierBinary.run([
            "run", "-H", "unix://" + agent.socketPath, "--rm", "-e", "A=1", "--log-opt", "max-size=1m",
            "--health-cmd", "true", "--health-interval", "1m30s", "busybox", "ls", "-l", "-d", "--rm", "--", "x",
        ])
        #expect(result.status == 3)
        #expect(result.stdout == "total 0\n")
        let sent = try #require(agent.requests.first)
        #expect(agent.requests.count == 1)
        #expect(sent.target == "/v1/containers?start=1&attach=1")
        let request = try JSONDecoder().decode(ContainerSpec.self, from: Data(sent.body))
        #expect(request.image == "busybox")
        #expect(request.command == ["ls", "-l", "-d", "--rm", "--", "x"])
        #expect(request.autoRemove)
        #expect(request.env == ["A=1"])
        #expect(request.logMaxSize == 1 << 20)
        #expect(request.health?.intervalSeconds == 90)
    }

    @Test func detachedRunPrintsTheId() throws {
        let agent = try FakeAgent { _ in .json(#"{"id":"4f2a9c","name":"quiet_owl"}"#, status: 201) }
        defer { agent.stop() }
        let result = try PierBinary.run(["run", "-d", "-H", "unix://" + agent.socketPath, "busybox", "sleep", "10"])
        #expect(result.status == 0)
        #expect(result.stdout == "4f2a9c\n")
        #expect(agent.requests.first?.target == "/v1/containers?start=1")
    }

    @Test func runFailureExitsWith125AndTheAgentsMessage() throws {
        let agent = try FakeAgent { _ in .json(#"{"message":"no such image: ghost"}"#, status: 404) }
        defer { agent.stop() }
        let result = try PierBinary.run(["run", "--host", "unix://" + agent.socketPath, "ghost"])
        #expect(result.status == 125)
        #expect(result.stderr == "Error: no such image: ghost\n")
    }

    @Test func missingAgentIsExplained() throws {
        let result = try PierBinary.run(["ps", "-H", "unix:///nonexistent/pier.sock"])
        #expect(result.status == 1)
        #expect(result.stderr == "Error: cannot reach the pier agent at unix:///nonexistent/pier.sock: is `pier agent` running? (set --host or PIER_HOST)\n")
    }

    @Test func execPassesArgumentsAndTheExitCode() throws {
        let agent = try FakeAgent { _ in Self.streamAnswer(stdout: "ok\n", exitCode: 7) }
        defer { agent.stop() }
        let result = try PierBinary.run(["exec", "-H", "unix://" + agent.socketPath, "-w", "/tmp", "web", "sh", "-c", "exit 7"])
        #expect(result.status == 7)
        #expect(result.stdout == "ok\n")
        let sent = try #require(agent.requests.first)
        #expect(sent.target == "/v1/containers/web/exec")
        #expect(try JSONDecoder().decode(ExecRequest.self, from: Data(sent.body)) == ExecRequest(command: ["sh", "-c", "exit 7"], workdir: "/tmp"))
    }

    @Test func inspectFallsBackToImagesAndPrintsAnArray() throws {
        let image = #"{"summary":{"tags":["busybox:latest"],"digest":"sha256:aa","platform":"linux/amd64","size":1,"sharedSize":0,"layers":1},"manifestMediaType":"m","configDigest":"sha256:bb","layerDigests":[],"diffIDs":[],"env":[],"labels":{}}"#
        let agent = try FakeAgent { request in
            request.target.hasPrefix("/v1/containers/") ? .json(#"{"message":"no such container: busybox"}"#, status: 404) : .json(image)
        }
        defer { agent.stop() }
        let result = try PierBinary.run(["inspect", "-H", "unix://" + agent.socketPath, "busybox"])
        #expect(result.status == 0)
        #expect(agent.requests.map(\.target) == ["/v1/containers/busybox", "/v1/images/busybox"])
        let decoded = try WireCoding.decoder().decode([ImageDetails].self, from: Data(result.stdout.utf8))
        #expect(decoded.first?.configDigest == "sha256:bb")
    }

    @Test func inspectOfNothingPrintsAnEmptyArrayAndFails() throws {
        let agent = try FakeAgent { request in .json(#"{"message":"no such thing"}"#, status: 404) }
        defer { agent.stop() }
        let result = try PierBinary.run(["inspect", "-H", "unix://" + agent.socketPath, "ghost"])
        #expect(result.status == 1)
        #expect(result.stdout == "[]\n")
        #expect(result.stderr == "Error: no such container or image: ghost\n")
    }

    @Test func psQuietPrintsShortIds() throws {
        let json = """
        [{"id":"0123456789abcdef","name":"web","image":"busybox","imageDigest":"sha256:aa","command":"sh","created":"2024-05-01T12:00:00Z",
          "state":"running","startedAt":"2024-05-01T12:00:01Z","health":"none","restartCount":0,"network":"bridge","ports":[],"labels":{}}]
        """
        let agent = try FakeAgent { _ in .json(json) }
        defer { agent.stop() }
        let result = try PierBinary.run(["ps", "-aq", "-H", "unix://" + agent.socketPath])
        #expect(result.stdout == "0123456789ab\n")
        #expect(agent.requests.first?.target == "/v1/containers?all=1")
    }
}
