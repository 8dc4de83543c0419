import Foundation
import Hummingbird
import PierOCI
import Testing
@testable import PierRegistry

@Suite("Pulling from the registry")
struct RegistryClientTests {
    @Test("pull by tag stores every blob, the manifest and the index, and tags the image")
    func pullByTag() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [3000, 200_000, 5], in: server)
        let target = try Stores()
        try await withRegistry(server) { base in
            let result = try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            #expect(result.manifest == image.manifest)
            #expect(result.index == image.index)
            #expect(result.resolved == image.index)
            #expect(Set(result.fetchedBlobs) == Set(image.blobs))
            #expect(result.fetchedBytes == image.config.size + image.layers.reduce(0) { $0 + $1.size })
            for (layer, data) in zip(image.layers, image.layerData) {
                #expect(try await target.content.read(layer.digest, limit: 1 << 30) == data)
            }
            for digest in image.blobs + [image.manifest] + (image.index.map { [$0] } ?? []) {
                try await target.content.verify(digest)
            }
            let reference = try ImageReference(parsing: "edge/sensor:1")
            let record = try #require(await target.images.record(for: reference))
            #expect(record.manifest == image.manifest)
            #expect(record.index == image.index)

            // A second pull finds everything present and downloads no blob.
            let again = try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            #expect(again.fetchedBlobs.isEmpty)
            #expect(again.fetchedBytes == 0)
        }
    }

    @Test("pull by digest verifies the manifest and tags nothing unless asked")
    func pullByDigest() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", withIndex: false, in: server)
        let target = try Stores()
        try await withRegistry(server) { base in
            let result = try await withClient(base, into: target) { client in
                let pinned = try await client.resolve(repository: "edge/sensor", reference: "1")
                #expect(pinned == image.manifest)
                return try await client.pull("edge/sensor@\(pinned)")
            }
            #expect(result.manifest == image.manifest)
            #expect(result.index == nil)
            #expect(result.reference == nil)
            #expect(await target.images.list().isEmpty)
            for digest in image.blobs + [image.manifest] { try await target.content.verify(digest) }

            let named = try await withClient(base, into: target) {
                try await $0.pull("edge/sensor:stable@\(image.manifest)")
            }
            #expect(named.reference?.display == "edge/sensor:stable")
            let stable = try ImageReference(parsing: "edge/sensor:stable")
            #expect(await target.images.record(for: stable)?.manifest == image.manifest)
        }
    }

    @Test("repository names with several segments pull and tag correctly")
    func multiSegmentNames() async throws {
        let server = try Stores()
        let deep = try await storeImage("site/line-3/plc/reader:2.1", in: server)
        // A repository whose name contains an endpoint word.
        let tricky = try await storeImage("tools/manifests/blobs:1", withIndex: false, in: server)
        let latest = try await storeImage("tools/plain:latest", layerSizes: [10], withIndex: false, in: server)
        let target = try Stores()
        try await withRegistry(server) { base in
            try await withClient(base, into: target) { client in
                let a = try await client.pull("site/line-3/plc/reader:2.1")
                #expect(a.manifest == deep.manifest)
                let b = try await client.pull(repository: "tools/manifests/blobs", reference: "1")
                #expect(b.manifest == tricky.manifest)
                // No tag and no digest means `latest`, as for docker.
                let c = try await client.pull("tools/plain")
                #expect(c.manifest == latest.manifest)
                #expect(c.reference?.display == "tools/plain:latest")
            }
            let tags = try await raw(.GET, base.absoluteString + "/v2/tools/manifests/blobs/tags/list")
            #expect(try JSONDecoder().decode(TagList.self, from: tags.body).tags == ["1"])
        }
        let deepReference = try ImageReference(parsing: "site/line-3/plc/reader:2.1")
        let trickyReference = try ImageReference(parsing: "tools/manifests/blobs:1")
        #expect(await target.images.record(for: deepReference)?.manifest == deep.manifest)
        #expect(await target.images.record(for: trickyReference)?.manifest == tricky.manifest)
    }

    @Test("a tampered blob is refused and nothing is stored under its digest")
    func tamperedBlob() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [4000, 90_000], in: server)
        let victim = image.layers[1]
        var bytes = image.layerData[1]
        bytes[500] ^= 0xff
        try bytes.write(to: server.content.blobURL(for: victim.digest))
        let target = try Stores()
        try await withRegistry(server) { base in
            let error = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            }
            if case .blobDoesNotVerify(let digest, _)? = error {
                #expect(digest == victim.digest)
            } else {
                Issue.record("expected blobDoesNotVerify, got \(String(describing: error))")
            }
        }
        #expect(!(await target.content.has(victim.digest)))
        #expect(!(await target.content.has(image.manifest)))
        #expect(await target.images.list().isEmpty)
        // Nothing of the tampered blob is kept; a download cancelled with it may keep its bytes.
        let left = try FileManager.default.contentsOfDirectory(atPath: target.content.ingestDirectory.path)
        #expect(left.allSatisfy { $0.hasPrefix("partial-") && $0 != "partial-" + victim.digest.encoded }, "\(left)")
    }

    @Test("a longer blob than declared is refused")
    func oversizedBlob() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [4000], withIndex: false, in: server)
        try (image.layerData[0] + Data("more".utf8)).write(to: server.content.blobURL(for: image.layers[0].digest))
        let target = try Stores()
        try await withRegistry(server) { base in
            await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            }
        }
        #expect(!(await target.content.has(image.layers[0].digest)))
    }

    @Test("a tampered manifest is refused, by tag and through an index")
    func tamperedManifest() async throws {
        for withIndex in [false, true] {
            let server = try Stores()
            let image = try await storeImage("edge/sensor:1", withIndex: withIndex, in: server)
            let url = server.content.blobURL(for: image.manifest)
            var manifest = try ImageManifest.decode(Data(contentsOf: url))
            manifest.annotations = ["evil": "yes"]
            try manifest.encoded().write(to: url)
            let target = try Stores()
            try await withRegistry(server) { base in
                let error = await #expect(throws: RegistryClientError.self) {
                    try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
                }
                if case .manifestDoesNotVerify(_, let expected, _)? = error {
                    #expect(expected == image.manifest)
                } else {
                    Issue.record("expected manifestDoesNotVerify, got \(String(describing: error))")
                }
            }
            #expect(!(await target.content.has(image.manifest)))
            #expect(await target.images.list().isEmpty)
        }
    }

    @Test("registry errors come back with their code")
    func registryErrors() async throws {
        let server = try Stores()
        try await storeImage("edge/sensor:1", in: server)
        let target = try Stores()
        try await withRegistry(server) { base in
            let unknown = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target) { try await $0.pull("edge/sensor:9") }
            }
            if case .registry(let status, _, let body)? = unknown {
                #expect(status == 404)
                #expect(body?.errors.first?.code == "MANIFEST_UNKNOWN")
                #expect("\(unknown.map { "\($0)" } ?? "")".contains("MANIFEST_UNKNOWN"))
            } else {
                Issue.record("expected a registry error, got \(String(describing: unknown))")
            }
            await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target) { try await $0.pull("Edge/Sensor:1") }
            }
            let platform = Platform(os: "linux", architecture: "s390x")
            let mismatch = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target, configuration: .init(platform: platform)) { try await $0.pull("edge/sensor:1") }
            }
            guard case .noMatchingPlatform? = mismatch else {
                Issue.record("expected noMatchingPlatform, got \(String(describing: mismatch))")
                return
            }
        }
    }

    @Test("a download cut off mid-blob resumes with Range instead of starting over")
    func resume() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [300_000], withIndex: false, in: server)
        let layer = image.layers[0]
        let log = CutState(opensAfterTheCut: true)
        let cut = CutThenRefuse(digest: layer.digest, data: image.layerData[0], keep: 120_000, state: log)
        let target = try Stores()
        try await withRegistry(server, middleware: cut) { base in
            let result = try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            #expect(result.manifest == image.manifest)
            // Every byte crossed the link once: the second request continued where the first broke.
            #expect(result.fetchedBytes == image.config.size + layer.size)
        }
        let ranges = await log.ranges
        #expect(ranges.count == 2)
        #expect(ranges.first == .some(nil))
        let resumed = try #require(ranges.last ?? nil)
        #expect(resumed.hasPrefix("bytes=") && resumed != "bytes=0-")
        try await target.content.verify(layer.digest)
    }
}

extension RegistryClientTests {
    @Test("a download that fails keeps its bytes; the next pull, by a restarted process, resumes from them")
    func resumeAcrossRestarts() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [300_000], withIndex: false, in: server)
        let layer = image.layers[0]
        let cut = CutThenRefuse(digest: layer.digest, data: image.layerData[0], keep: 120_000, state: CutState())
        let target = try Stores()
        try await withRegistry(server, middleware: cut) { base in
            let failure = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: target) { try await $0.pull("edge/sensor:1") }
            }
            guard case .registry(status: 503, _, _)? = failure else {
                Issue.record("expected the 503, got \(String(describing: failure))")
                return
            }
            #expect(await !target.content.has(layer.digest))
            let partial = target.content.ingestDirectory.appendingPathComponent("partial-" + layer.digest.encoded)
            // What arrived before the cut (the server's first writes; not always all it meant to send).
            let kept = try #require(FileManager.default.attributesOfItem(atPath: partial.path)[.size] as? Int)
            #expect(kept > 0 && kept <= 120_000)
            #expect(await cut.state.ranges == [nil, "bytes=\(kept)-"])

            await cut.state.open()
            let restarted = try Stores(reopening: target)
            let result = try await withClient(base, into: restarted) { try await $0.pull("edge/sensor:1") }
            #expect(result.manifest == image.manifest)
            // Only the rest of the layer crossed the link (the config came with the first pull).
            #expect(result.fetchedBytes == layer.size - Int64(kept))
            #expect(await cut.state.ranges.last == "bytes=\(kept)-")
            try await restarted.content.verify(layer.digest)
            #expect(!FileManager.default.fileExists(atPath: partial.path))
        }
    }
}

extension RegistryClientTests {
    @Test("each layer is handed on (with its diff id from the config) as soon as it is stored, and the pull waits for those calls")
    func layersAreHandedOnAsTheyArrive() async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [5000, 60_000, 120_000], withIndex: false, in: server)
        let target = try Stores()
        // The first layer is already there: it is handed on too, without a download.
        try await target.content.ingest(data: image.layerData[0], expecting: image.layers[0])
        let seen = SeenLayers()
        var configuration = RegistryClient.Configuration()
        let content = target.content
        configuration.layerStored = { layer, diffID in
            let present = await content.has(layer.digest)
            try? await Task.sleep(for: .milliseconds(30))
            await seen.add(layer.digest, diffID, present: present)
        }
        let settings = configuration
        try await withRegistry(server) { base in
            let result = try await withClient(base, into: target, configuration: settings) { try await $0.pull("edge/sensor:1") }
            #expect(result.fetchedBlobs.count == 3)  // the config and two layers
        }
        // Every call had returned when the pull did. (The test images' layers are stored
        // uncompressed: the diff id is the layer's own digest.)
        let calls = await seen.calls
        #expect(calls.count == 3)
        for layer in image.layers {
            #expect(calls[layer.digest]?.diffID == layer.digest)
            #expect(calls[layer.digest]?.present == true)
        }
    }
}

actor SeenLayers {
    var calls: [Digest: (diffID: Digest, present: Bool)] = [:]
    func add(_ digest: Digest, _ diffID: Digest, present: Bool) { calls[digest] = (diffID, present) }
}

/// The `Range` headers of the blob requests `CutThenRefuse` saw, and whether it lets them through.
actor CutState {
    var ranges: [String?] = []
    var isOpen = false
    let opensAfterTheCut: Bool
    init(opensAfterTheCut: Bool = false) { self.opensAfterTheCut = opensAfterTheCut }
    func open() { isOpen = true }
    func record(_ range: String?) -> (first: Bool, open: Bool) {
        ranges.append(range)
        return (ranges.count == 1, isOpen || (opensAfterTheCut && ranges.count > 1))
    }
}

/// Sends the first request for one blob in part and drops the connection; after that serves
/// the blob if the state is open (or opens after the cut), and refuses it with 503 otherwise
/// (a registry that went away while a node pulled).
struct CutThenRefuse: RouterMiddleware {
    typealias Context = BasicRequestContext
    let digest: Digest
    let data: Data
    let keep: Int
    let state: CutState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, request.uri.path.hasSuffix("/blobs/\(digest)") else { return try await next(request, context) }
        let (first, open) = await state.record(request.headers[.range])
        if open { return try await next(request, context) }
        guard first else { return Response(status: .serviceUnavailable) }
        let part = ByteBuffer(bytes: data.prefix(keep))
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream"],
            body: ResponseBody(contentLength: data.count) { writer in
                try await writer.write(part)
                throw TestFailure("connection cut after \(part.readableBytes) bytes")
            })
    }
}

/// Counts the blob requests in flight and the most seen at once.
actor Concurrency {
    private var active = 0
    private(set) var peak = 0
    func enter() { active += 1; peak = max(peak, active) }
    func leave() { active -= 1 }
}

/// Holds every blob request for a moment so that parallel downloads overlap.
struct SlowBlobs: RouterMiddleware {
    typealias Context = BasicRequestContext
    let counter: Concurrency

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.contains("/blobs/") else { return try await next(request, context) }
        await counter.enter()
        try? await Task.sleep(for: .milliseconds(40))
        await counter.leave()
        return try await next(request, context)
    }
}

@Suite("Parallel downloads")
struct ParallelDownloadTests {
    @Test("no more blobs are downloaded at once than configured", arguments: [1, 2])
    func limit(_ limit: Int) async throws {
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [100, 200, 300, 400, 500, 600], withIndex: false, in: server)
        let counter = Concurrency()
        let target = try Stores()
        try await withRegistry(server, middleware: SlowBlobs(counter: counter)) { base in
            let result = try await withClient(base, into: target, configuration: .init(maxConcurrentDownloads: limit)) {
                try await $0.pull("edge/sensor:1")
            }
            #expect(result.fetchedBlobs.count == 7)
        }
        #expect(await counter.peak <= limit)
        for digest in image.blobs { try await target.content.verify(digest) }
    }
}
