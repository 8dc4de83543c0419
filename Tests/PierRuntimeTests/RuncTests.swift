import PierTestSupport
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

    @Test("runc is found through PIER_RUNC, then PATH, then the usual places", .requires(TestSupport.hasRunc, "runc"))
    func locate() throws {
        #expect(try Runc.locate(environment: ["PIER_RUNC": "/usr/sbin/runc"]) == "/usr/sbin/runc")
        let usual = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"].first { (path: String) in access(path, X_OK) == 0 }
        #expect(try Runc.locate(environment: ["PATH": "/nonexistent"]) == usual)
        // PATH comes before the usual places.
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let onPath = dir.appendingPathComponent("runc").path
        #expect(FileManager.default.createFile(atPath: onPath, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        #expect(try Runc.locate(environment: ["PATH": dir.path]) == onPath)
    }

    @Test("pier-shim is found through PIER_SHIM, then beside the running binary, then PATH; else the error lists where it looked")
    func locateShim() throws {
        #expect(try ShimLauncher.locate(environment: ["PIER_SHIM": "/bin/true"]) == "/bin/true")
        let dir = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let beside = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("pier-shim").path
        let besideExists = access(beside, X_OK) == 0
        // An unusable PIER_SHIM falls through; with nothing on PATH either, only the binary's
        // neighbour can be found.
        let empty = ["PIER_SHIM": "/nonexistent/pier-shim", "PATH": dir.path]
        if besideExists {
            #expect(try ShimLauncher.locate(environment: empty) == beside)
        } else {
            #expect(throws: ShimError.binaryNotFound(searched: ["/nonexistent/pier-shim", beside, dir.path + "/pier-shim"])) {
                try ShimLauncher.locate(environment: empty)
            }
        }
        let onPath = dir.appendingPathComponent("pier-shim").path
        #expect(FileManager.default.createFile(atPath: onPath, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        #expect(try ShimLauncher.locate(environment: empty) == (besideExists ? beside : onPath))
    }

    @Test("operations on unknown containers", .requires(TestSupport.canRunContainers, "root, runc and busybox-static"))
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
