import Foundation
import Testing

@testable import PierRuntime

@Suite("Runc wrapper")
struct RuncTests {
    @Test("runc's error is taken from its JSON log lines, else its last line")
    func errorMessages() {
        let json = """
            {"level":"warning","msg":"something","time":"2026-01-01T00:00:00Z"}
            {"level":"error","msg":"container does not exist","time":"2026-01-01T00:00:00Z"}
            container does not exist
            """
        #expect(Runc.errorMessage(inOutput: json) == "container does not exist")
        #expect(Runc.errorMessage(inOutput: "plain failure\n") == "plain failure")
        #expect(Runc.errorMessage(inOutput: "") == "no error message")
    }

    @Test("runc is found through PIER_RUNC, then PATH", .enabled(if: TestSupport.hasRunc))
    func locate() throws {
        #expect(try Runc.locate(environment: ["PIER_RUNC": "/usr/sbin/runc"]) == "/usr/sbin/runc")
        #expect(try Runc.locate(environment: ["PATH": "/nonexistent"]).hasSuffix("/runc"))
        #expect(try ShimLauncher.locate(environment: ["PIER_SHIM": "/bin/true"]) == "/bin/true")
        #expect(
            (try? ShimLauncher.locate(environment: ["PIER_SHIM": "/nonexistent/pier-shim", "PATH": "/bin"])) != "/nonexistent/pier-shim")
    }

    @Test("operations on unknown containers", .enabled(if: TestSupport.canRunContainers))
    func unknownContainer() async throws {
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let runc = Runc(binary: try Runc.locate(), root: dir.path)
        #expect(try await runc.list().isEmpty)
        await #expect(throws: RuncError.containerNotFound(id: "nope")) { try await runc.kill(id: "nope", signal: .term) }
        await #expect(throws: RuncError.containerNotFound(id: "nope")) { try await runc.state(id: "nope") }
        try await runc.delete(id: "nope", force: true)
    }
}
