import PierTestSupport
import Foundation
import Hummingbird
import PierOCI
import Testing
@testable import PierRegistry

/// Replaces every delta patch the registry sends with other bytes, as a tampering link would.
struct CorruptDeltas: RouterMiddleware {
    typealias Context = BasicRequestContext
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.contains("/_pier/delta/") else { return try await next(request, context) }
        var response = try await next(request, context)
        guard response.status == .ok else { return response }
        let junk = randomData(5000)
        response.headers[.contentLength] = String(junk.count)
        response.body = ResponseBody(byteBuffer: ByteBuffer(bytes: junk))
        return response
    }
}

@Suite("Delta updates", .requires(RegistryDeltas.defaultZstd != nil, "zstd"), .timeLimit(.minutes(5)))
struct DeltaTests {
    /// Version 1 and version 2 of an image whose 2 MB layer differs in 100 KB in the middle.
    static func versions(in stores: Stores) async throws -> (TestImage, TestImage) {
        let v1Layer = randomData(2_000_000)
        var v2Layer = v1Layer
        v2Layer.replaceSubrange(900_000..<1_000_000, with: randomData(100_000))
        let v1 = try await storeImage("edge/app:1", layers: [randomData(4000), v1Layer], withIndex: false, in: stores)
        let v2 = try await storeImage("edge/app:2", layers: [v1.layerData[0], v2Layer], withIndex: false, in: stores)
        return (v1, v2)
    }

    @Test("a node with version 1 fetches version 2's changed layer as a small patch, verified, and stores the same bytes")
    func updateByDelta() async throws {
        let server = try Stores()
        let (_, v2) = try await Self.versions(in: server)
        let node = try Stores()
        try await withRegistry(server) { base in
            let first = try await withClient(base, into: node) { try await $0.pull("edge/app:1") }
            #expect(first.deltaBlobs.isEmpty)
            let second = try await withClient(base, into: node) { try await $0.pull("edge/app:2") }
            #expect(second.manifest == v2.manifest)
            #expect(second.deltaBlobs == [v2.layers[1].digest])
            // Config plus a patch of about the changed 100 KB, against a 2 MB layer.
            #expect(second.fetchedBytes < 200_000 + v2.config.size, "\(second.fetchedBytes)")
            try await node.content.verify(v2.layers[1].digest)
            #expect(try await node.content.read(v2.layers[1].digest, limit: 4 << 20) == v2.layerData[1])
        }
    }

    @Test("a tampered patch is caught by the digest and the layer is downloaded whole")
    func tamperedDeltaFallsBack() async throws {
        let server = try Stores()
        let (_, v2) = try await Self.versions(in: server)
        let node = try Stores()
        try await withRegistry(server, middleware: CorruptDeltas()) { base in
            _ = try await withClient(base, into: node) { try await $0.pull("edge/app:1") }
            let second = try await withClient(base, into: node) { try await $0.pull("edge/app:2") }
            #expect(second.deltaBlobs.isEmpty)
            #expect(second.fetchedBytes >= v2.layers[1].size)
            try await node.content.verify(v2.layers[1].digest)
        }
    }

    @Test("unrelated layers get no delta (not worth it) and a registry without zstd offers none")
    func noUsefulDelta() async throws {
        let server = try Stores()
        let v1 = try await storeImage("edge/app:1", layerSizes: [500_000], withIndex: false, in: server)
        let v2 = try await storeImage("edge/app:2", layerSizes: [500_000], withIndex: false, in: server)
        try await withRegistry(server) { base in
            let url = "\(base)/v2/edge/app/_pier/delta/\(v2.layers[0].digest)?from=\(v1.layers[0].digest)"
            let response = try await raw(.GET, url)
            #expect(response.status == 404 && response.errorCodes == ["BLOB_UNKNOWN"])
            let missingFrom = try await raw(.GET, "\(base)/v2/edge/app/_pier/delta/\(v2.layers[0].digest)")
            #expect(missingFrom.errorCodes == ["DIGEST_INVALID"])
        }
        // Two versions a delta exists for: with zstd it is served, without it the registry offers none.
        let related = try Stores()
        let (r1, r2) = try await Self.versions(in: related)
        let path = "/v2/edge/app/_pier/delta/\(r2.layers[1].digest)?from=\(r1.layers[1].digest)"
        try await withRegistry(related) { base in
            let response = try await raw(.GET, "\(base)\(path)")
            #expect(response.status == 200 && response.header("Pier-Delta-Base") == r1.layers[1].digest.description)
        }
        var configuration = RegistryRoutes<BasicRequestContext>.Configuration()
        configuration.zstdPath = nil
        try await withRegistry(related, configuration: configuration) { base in
            let response = try await raw(.GET, "\(base)\(path)")
            #expect(response.status == 404 && response.errorCodes == ["BLOB_UNKNOWN"])
        }
    }
}
