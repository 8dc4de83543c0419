import Foundation
import HTTPTypes
import Hummingbird
import PierOCI
import Testing
@testable import PierRegistry

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (opening a FIFO) on a dispatch thread, not on the cooperative pool.
private func blocking<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}

/// The registry's bounds on real servers on loopback: what a pull may download, the patch work
/// of the delta endpoint, and upload sessions.
@Suite("Registry bounds")
struct RegistryBoundsTests {
    // MARK: Pulls

    @Test("a manifest declaring more than the free disk is refused before anything downloads")
    func pullRefusesOversizedImage() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/huge:1", layerSizes: [1000], withIndex: false, in: server)
        // The same image with its layer declared at a petabyte.
        var layer = image.layers[0]
        layer.size = 1 << 50
        let manifest = try ImageManifest(config: image.config, layers: [layer]).encoded()
        let stored = try await server.content.ingest(data: manifest, expecting: nil, size: nil)
        try await server.images.tag(try ImageReference(parsing: "edge/huge:2"), manifest: stored.digest, index: nil)
        let node = try Stores()
        try await withRegistry(server) { base in
            await #expect {
                try await withClient(base, into: node) { try await $0.pull("edge/huge:2") }
            } throws: { error in
                guard case RegistryClientError.tooLarge(_, let bytes, let limit) = error else { return false }
                return bytes == (1 << 50) + image.config.size && limit > 0 && "\(error)".contains("nothing was downloaded")
            }
            // Nothing came: not even the config.
            let hasConfig = await node.content.has(image.config.digest)
            #expect(!hasConfig)
            // The server still serves the honest image.
            let pulled = try await withClient(base, into: node) { try await $0.pull("edge/huge:1") }
            #expect(pulled.manifest == image.manifest)
        }
    }

    // MARK: Deltas

    /// A stand-in for zstd (a shell script named as `zstdPath`) that first does `prelude`, then
    /// runs the real zstd with its arguments.
    static func zstdWrapper(in dir: TempDir, prelude: String) throws -> String {
        let script = dir.url.appendingPathComponent("zstd-wrapper")
        let zstd = try #require(RegistryDeltas.defaultZstd)
        try "#!/bin/sh\n\(prelude)\nexec \(zstd) \"$@\"\n".write(to: script, atomically: true, encoding: .utf8)
        chmod(script.path, 0o755)
        return script.path
    }

    @Test("a delta over the input limit answers 404 naming the limit, and the pull downloads the blob",
          .enabled(if: RegistryDeltas.defaultZstd != nil))
    func deltaInputLimit() async throws {
        let server = try Stores()
        let (v1, v2) = try await DeltaTests.versions(in: server)
        var configuration = RegistryRoutes<BasicRequestContext>.Configuration()
        configuration.maxDeltaInputBytes = 3_000_000  // the two 2 MB layers are 4 MB
        let node = try Stores()
        try await withRegistry(server, configuration: configuration) { base in
            let url = "\(base)/v2/edge/app/_pier/delta/\(v2.layers[1].digest)?from=\(v1.layers[1].digest)"
            let refused = try await raw(.GET, url)
            #expect(refused.status == 404 && refused.errorCodes == ["BLOB_UNKNOWN"])
            #expect(String(decoding: refused.body, as: UTF8.self).contains("limit of 3000000"))
            _ = try await withClient(base, into: node) { try await $0.pull("edge/app:1") }
            let second = try await withClient(base, into: node) { try await $0.pull("edge/app:2") }
            #expect(second.deltaBlobs.isEmpty)
            try await node.content.verify(v2.layers[1].digest)
        }
    }

    @Test("deltas beyond the concurrent limit answer 429 with Retry-After; the one computing finishes",
          .enabled(if: RegistryDeltas.defaultZstd != nil))
    func deltaConcurrencyLimit() async throws {
        let server = try Stores()
        let (v1, v2) = try await DeltaTests.versions(in: server)
        let dir = try TempDir()
        let started = dir.url.appendingPathComponent("started"), release = dir.url.appendingPathComponent("release")
        #expect(mkfifo(started.path, 0o600) == 0 && mkfifo(release.path, 0o600) == 0)
        var configuration = RegistryRoutes<BasicRequestContext>.Configuration()
        // The wrapper says it started, then waits until the test releases it.
        configuration.zstdPath = try Self.zstdWrapper(in: dir, prelude: "echo go > '\(started.path)'\nread line < '\(release.path)'")
        configuration.maxConcurrentDeltas = 1
        try await withRegistry(server, configuration: configuration) { base in
            let url = "\(base)/v2/edge/app/_pier/delta/\(v2.layers[1].digest)?from=\(v1.layers[1].digest)"
            let first = Task { try await raw(.GET, url) }
            // Returns once the wrapper wrote: the first computation holds the only slot.
            let signal = await blocking { FileHandle(forReadingAtPath: started.path)?.readDataToEndOfFile() }
            #expect(signal.map { String(decoding: $0, as: UTF8.self) } == "go\n")
            let second = try await raw(.GET, url)
            #expect(second.status == 429 && second.errorCodes == ["TOOMANYREQUESTS"] && second.header("Retry-After") == "5", "\(second)")
            // Other routes keep answering meanwhile.
            #expect(try await raw(.GET, "\(base)/v2/").status == 200)
            _ = await blocking { FileHandle(forWritingAtPath: release.path).map { $0.write(Data("done\n".utf8)); try? $0.close() } }
            let done = try await first.value
            #expect(done.status == 200 && done.header("Pier-Delta-Base") == v1.layers[1].digest.description)
            // The slot is free again (and the patch is cached now).
            #expect(try await raw(.GET, url).status == 200)
        }
    }

    @Test("a delta computation past the time limit is killed and answers 404", .enabled(if: RegistryDeltas.defaultZstd != nil))
    func deltaTimeLimit() async throws {
        let server = try Stores()
        let (v1, v2) = try await DeltaTests.versions(in: server)
        let dir = try TempDir()
        let pidFile = dir.url.appendingPathComponent("pid")
        var configuration = RegistryRoutes<BasicRequestContext>.Configuration()
        configuration.zstdPath = try Self.zstdWrapper(in: dir, prelude: "echo $$ > '\(pidFile.path)'\nexec sleep 600")
        configuration.deltaTimeLimit = .milliseconds(300)
        try await withRegistry(server, configuration: configuration) { base in
            let url = "\(base)/v2/edge/app/_pier/delta/\(v2.layers[1].digest)?from=\(v1.layers[1].digest)"
            let response = try await raw(.GET, url)
            #expect(response.status == 404 && response.errorCodes == ["BLOB_UNKNOWN"])
            #expect(String(decoding: response.body, as: UTF8.self).contains("took longer than"))
            let pid = try #require(Int32(String(decoding: try Data(contentsOf: pidFile), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            // Killed and reaped before the answer: no such process any more.
            #expect(kill(pid, 0) == -1 && errno == ESRCH)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: server.content.root.appendingPathComponent("deltas").path)
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }

    @Test("applying a patch that expands past the expected blob size fails instead of filling the disk",
          .enabled(if: RegistryDeltas.defaultZstd != nil))
    func patchOutputBounded() async throws {
        let zstd = try #require(RegistryDeltas.defaultZstd)
        let dir = try TempDir()
        let base = dir.url.appendingPathComponent("base"), target = dir.url.appendingPathComponent("target")
        try randomData(100_000).write(to: base)
        try Data(count: 64 << 20).write(to: target)  // compresses to almost nothing
        let patch = dir.url.appendingPathComponent("patch.zst")
        #expect(await RegistryDeltas.makePatch(zstd: zstd, base: base, target: target, output: patch))
        #expect(try Data(contentsOf: patch).count < 1 << 20)
        let output = dir.url.appendingPathComponent("out")
        // A node expecting a 1 MiB blob: zstd stops at the limit.
        let bounded = await RegistryDeltas.applyPatch(zstd: zstd, base: base, patch: patch, output: output, maxOutputBytes: 1 << 20)
        #expect(!bounded)
        let written = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? NSNumber)?.int64Value ?? 0
        #expect(written <= 1 << 20 + 512, "\(written) bytes written")
        // With the right size it applies.
        #expect(await RegistryDeltas.applyPatch(zstd: zstd, base: base, patch: patch, output: output, maxOutputBytes: 64 << 20))
        #expect(try Data(contentsOf: output).count == 64 << 20)
    }

    // MARK: Uploads

    /// Pushes allowed; the client is named by the `X-Client` header.
    static func pushing(_ settings: RegistryRoutes<BasicRequestContext>.PushSettings) -> RegistryRoutes<BasicRequestContext>.Configuration {
        var configuration = RegistryRoutes<BasicRequestContext>.Configuration(push: settings)
        configuration.client = { request, _ in request.headers[HTTPField.Name("X-Client")!] ?? "none" }
        return configuration
    }

    @Test("upload sessions are capped per client and in total with 429 and Retry-After; a cancelled one frees its place")
    func uploadSessionLimits() async throws {
        let stores = try Stores()
        try await withRegistry(stores, configuration: Self.pushing(.init(maxSessions: 3, maxSessionsPerClient: 2))) { base in
            let start = "\(base)/v2/edge/app/blobs/uploads/"
            let a1 = try await raw(.POST, start, headers: ["X-Client": "a"])
            let a2 = try await raw(.POST, start, headers: ["X-Client": "a"])
            #expect(a1.status == 202 && a2.status == 202)
            let a3 = try await raw(.POST, start, headers: ["X-Client": "a"])
            #expect(a3.status == 429 && a3.errorCodes == ["TOOMANYREQUESTS"] && a3.header("Retry-After") == "60", "\(a3)")
            #expect(String(decoding: a3.body, as: UTF8.self).contains("limit per client of 2"))
            #expect(try await raw(.POST, start, headers: ["X-Client": "b"]).status == 202)
            let c1 = try await raw(.POST, start, headers: ["X-Client": "c"])
            #expect(c1.status == 429 && String(decoding: c1.body, as: UTF8.self).contains("its limit of 3"), "\(c1)")
            // A monolithic upload over the total limit is refused too, and stores nothing.
            let blob = randomData(1000)
            let mono = try await raw(.POST, "\(start)?digest=\(Digest.sha256(of: blob))", headers: ["X-Client": "c"], body: blob)
            #expect(mono.status == 429)
            let stored = await stores.content.has(Digest.sha256(of: blob))
            #expect(!stored)
            // Cancelling one of a's sessions frees a place for a.
            #expect(try await raw(.DELETE, base.absoluteString + (a1.header("Location") ?? "")).status == 204)
            #expect(try await raw(.POST, start, headers: ["X-Client": "a"]).status == 202)
        }
    }

    @Test("sessions idle past the limit are removed with their bytes when the registry needs the room")
    func staleSessionsExpire() async throws {
        let stores = try Stores()
        try await withRegistry(stores, configuration: Self.pushing(.init(maxSessions: 2, sessionIdleLimit: .seconds(3600)))) { base in
            let start = "\(base)/v2/edge/app/blobs/uploads/"
            var sessions: [String] = []
            for _ in 0..<2 {
                let response = try await raw(.POST, start)
                let location = try #require(response.header("Location"))
                sessions.append(base.absoluteString + location)
                #expect(try await raw(.PATCH, sessions.last!, body: randomData(10_000)).status == 202)
            }
            #expect(try await raw(.POST, start).status == 429)
            // Both sessions last written two hours ago.
            let uploads = stores.content.root.appendingPathComponent("uploads")
            let ids = try FileManager.default.contentsOfDirectory(atPath: uploads.path)
            #expect(ids.count == 2)
            let past = Date().addingTimeInterval(-7200)
            for id in ids {
                try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: uploads.appendingPathComponent("\(id)/data").path)
            }
            #expect(try await raw(.POST, start).status == 202)
            let remaining = try FileManager.default.contentsOfDirectory(atPath: uploads.path)
            #expect(remaining.count == 1 && Set(remaining).isDisjoint(with: ids), "\(remaining)")
            #expect(try await raw(.GET, sessions[0]).errorCodes == ["BLOB_UPLOAD_UNKNOWN"])
        }
    }

    @Test("a blob over the size limit answers 400 SIZE_INVALID and nothing of it is stored")
    func uploadSizeLimit() async throws {
        let stores = try Stores()
        try await withRegistry(stores, configuration: Self.pushing(.init(maxBlobBytes: 64 << 10))) { base in
            let blob = randomData(100_000)
            let digest = Digest.sha256(of: blob)
            let response = try await raw(.POST, "\(base)/v2/edge/app/blobs/uploads/?digest=\(digest)", body: blob)
            #expect(response.status == 400 && response.errorCodes == ["SIZE_INVALID"], "\(response)")
            let stored = await stores.content.has(digest)
            #expect(!stored)
            let uploads = stores.content.root.appendingPathComponent("uploads")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: uploads.path)) ?? []).isEmpty)
            #expect(try await raw(.GET, "\(base)/v2/").status == 200)
        }
    }
}
