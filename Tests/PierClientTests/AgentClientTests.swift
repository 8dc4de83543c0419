import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierClient

@Suite("AgentClient against a fake agent on a unix socket")
struct AgentClientTests {
    @Test func missingSocketSaysHowToFixIt() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pier-missing-\(UUID().uuidString).sock").path
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: path)) { try await $0.info() }
        }
        #expect(error?.description == "cannot reach the pier agent at unix://\(path): is `pier agent` running? (set --host or PIER_HOST)")
    }

    @Test func socketPathThatIsAPlainFileIsUnreachable() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pier-stale-\(UUID().uuidString).sock").path
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: path)) { try await $0.listContainers(all: true) }
        }
        #expect(error == .agentUnreachable(endpoint: "unix://" + path))
    }

    @Test func foregroundRunIsOneRequestAndReturnsTheExitCode() async throws {
        var frames = StreamFrame(kind: .stdout, payload: Array("line 1\n".utf8)).encoded()
        frames += StreamFrame(kind: .stderr, payload: Array("oops\n".utf8)).encoded()
        frames += StreamFrame(kind: .exit, payload: Array(#"{"exitCode":42}"#.utf8)).encoded()
        // Cut the stream mid-header and mid-payload.
        let chunks = [Array(frames[0..<3]), Array(frames[3..<12]), Array(frames[12..<30]), Array(frames[30...])]
        let agent = try FakeAgent { _ in
            .init(status: 200, contentType: "application/vnd.pier.stream", chunks: chunks, headers: ["Pier-Container-Id": "c0ffee"])
        }
        defer { agent.stop() }
        var request = ContainerSpec(image: "busybox", command: ["sh", "-c", "exit 42"])
        request.autoRemove = true
        let output = CapturedOutput()
        let (id, exit) = try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { client in
            let stream = try await client.runAttached(request)
            return (stream.containerID, try await stream.pumpUntilExit(into: output))
        }
        #expect(id == "c0ffee")
        #expect(exit == ContainerExit(exitCode: 42))
        #expect(output.stdout == "line 1\n")
        #expect(output.stderr == "oops\n")
        let sent = agent.requests
        #expect(sent.count == 1)
        #expect(sent.first?.method == "POST")
        #expect(sent.first?.target == "/v1/containers?start=1&attach=1")
        #expect(sent.first?.headers["content-type"] == "application/json")
        let decoded = try sent.first.map { try JSONDecoder().decode(ContainerSpec.self, from: Data($0.body)) }
        #expect(decoded == request)
    }

    @Test func streamWithoutExitFrameIsAnError() async throws {
        let agent = try FakeAgent { _ in
            .init(status: 200, contentType: "application/vnd.pier.stream", chunks: [StreamFrame(kind: .stdout, payload: [65]).encoded()])
        }
        defer { agent.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { client in
                try await client.runAttached(ContainerSpec(image: "busybox")).pumpUntilExit(into: CapturedOutput())
            }
        }
        #expect(error == .streamEndedEarly(request: "POST /v1/containers"))
    }

    @Test func agentErrorMessageBecomesTheError() async throws {
        let agent = try FakeAgent { _ in .json(#"{"message":"no such container: ghost"}"#, status: 404) }
        defer { agent.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.stopContainer("ghost", timeout: 3) }
        }
        #expect(error == .api(status: 404, message: "no such container: ghost"))
        #expect(error?.description == "no such container: ghost")
        #expect(error?.isNotFound == true)
        #expect(agent.requests.first?.target == "/v1/containers/ghost/stop?t=3")
    }

    @Test func nonJSONErrorKeepsTheStatus() async throws {
        let agent = try FakeAgent { _ in .init(status: 502, contentType: "text/plain", chunks: [Array("bad gateway".utf8)]) }
        defer { agent.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.info() }
        }
        #expect(error?.description == "the agent answered 502: bad gateway")
    }

    @Test func listingsDecodeWithISODates() async throws {
        let json = """
        [{"id":"abc","name":"web","image":"busybox:latest","imageDigest":"sha256:aa","command":"sleep 9","created":"2024-05-01T12:00:00Z",
          "state":"running","startedAt":"2024-05-01T12:00:01Z","health":"healthy","restartCount":0,"network":"bridge","ports":[],"labels":{}}]
        """
        let agent = try FakeAgent { _ in .json(json) }
        defer { agent.stop() }
        let list = try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.listContainers(all: true) }
        #expect(list.count == 1)
        #expect(list.first?.startedAt == Date(timeIntervalSince1970: 1_714_564_801))
        #expect(list.first?.health == .healthy)
        #expect(agent.requests.first?.target == "/v1/containers?all=1")
    }

    @Test func importStreamsAFileAsIs() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let bytes = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let file = dir.path + "/image.tar"
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let agent = try FakeAgent { _ in .json(#"[{"name":"sensor:1.0","digest":"sha256:00"}]"#) }
        defer { agent.stop() }
        let imported: [ImportedImage]
        do {
            imported = try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) {
                try await $0.importImage(from: try ImageArchiveSource(path: file), tag: "sensor:1.0")
            }
        } catch {
            Issue.record("import failed: \(error); server saw \(agent.requests.count) requests, problems: \(agent.connectionProblems)")
            throw error
        }
        #expect(imported == [ImportedImage(name: "sensor:1.0", digest: "sha256:00")])
        #expect(agent.requests.first?.target == "/v1/images/import?tag=sensor%3A1.0")
        #expect(agent.requests.first?.headers["content-length"] == "700000")
        #expect(agent.requests.first?.body == bytes)
    }

    @Test func importTarsADirectoryOnTheFly() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let layout = dir.path + "/layout"
        let blob = String(repeating: "ab", count: 32)
        try dir.write("layout/oci-layout", #"{"imageLayoutVersion":"1.0.0"}"#)
        try dir.write("layout/index.json", #"{"schemaVersion":2,"manifests":[]}"#)
        try dir.write("layout/blobs/sha256/" + blob, String(repeating: "x", count: 1500))
        try dir.write("layout/blobs/sha256/empty", "")
        let agent = try FakeAgent { _ in .json("[]") }
        defer { agent.stop() }
        _ = try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) {
            try await $0.importImage(from: try ImageArchiveSource(path: layout), tag: nil)
        }
        let sent = try #require(agent.requests.first)
        #expect(sent.target == "/v1/images/import")
        #expect(sent.headers["content-length"] == String(sent.body.count))
        // The real tar reads it back, byte for byte.
        let tarPath = dir.path + "/sent.tar"
        _ = FileManager.default.createFile(atPath: tarPath, contents: Data(sent.body))
        try FileManager.default.createDirectory(atPath: dir.path + "/out", withIntermediateDirectories: true)
        #expect(try run("/usr/bin/tar", ["-xf", tarPath, "-C", dir.path + "/out"]) == 0)
        #expect(try String(contentsOfFile: dir.path + "/out/blobs/sha256/" + blob, encoding: .utf8) == String(repeating: "x", count: 1500))
        #expect(try String(contentsOfFile: dir.path + "/out/index.json", encoding: .utf8) == #"{"schemaVersion":2,"manifests":[]}"#)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/out/blobs/sha256/empty"))
    }

    @Test func exportWritesThroughATempFile() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let payload = Array(repeating: UInt8(7), count: 100_000)
        let agent = try FakeAgent { request in
            request.target.hasPrefix("/v1/images/sensor%3A1.0/export")
                ? .init(status: 200, contentType: "application/x-tar", chunks: [Array(payload[..<40_000]), Array(payload[40_000...])])
                : .json(#"{"message":"no such image: ghost"}"#, status: 404)
        }
        defer { agent.stop() }
        let target = dir.path + "/sensor.tar"
        try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.exportImage("sensor:1.0", to: target) }
        #expect(FileManager.default.contents(atPath: target) == Data(payload))
        #expect(!FileManager.default.fileExists(atPath: target + ".tmp"))

        let missing = dir.path + "/ghost.tar"
        await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.exportImage("ghost", to: missing) }
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(!FileManager.default.fileExists(atPath: missing + ".tmp"))

        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) {
                try await $0.exportImage("sensor:1.0", to: dir.path + "/no/such/dir/x.tar")
            }
        }
        #expect(error?.description.hasPrefix(dir.path + "/no/such/dir/x.tar.tmp: cannot create it") == true)
    }
}

/// A temp directory removed by `remove()`.
struct TempDir {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("pier-client-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ relative: String, _ text: String) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs a program and returns its exit status.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
