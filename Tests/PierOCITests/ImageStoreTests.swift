import Foundation
import Testing
@testable import PierOCI

@Suite("ImageStore")
struct ImageStoreTests {
    static func digest(_ c: Character) throws -> Digest { try Digest(sha256Hex: String(repeating: c, count: 64)) }

    @Test("tags persist across reopening and resolve by name, digest and unique prefix")
    func tagsAndResolves() async throws {
        let dir = try TempDir()
        let a = try Digest(sha256Hex: "abc" + String(repeating: "1", count: 61))
        let b = try Digest(sha256Hex: "abd" + String(repeating: "2", count: 61))
        do {
            let store = try ImageStore(root: dir.url)
            try await store.tag(ImageReference(parsing: "sensor:1.0"), manifest: a)
            try await store.tag(ImageReference(parsing: "docker.io/library/sensor:latest"), manifest: a)
            try await store.tag(ImageReference(parsing: "localhost:5000/pubsub"), manifest: b)
        }
        let store = try ImageStore(root: dir.url)
        #expect(await store.list().map(\.reference.display) == ["sensor:1.0", "sensor:latest", "localhost:5000/pubsub:latest"])
        #expect(try await store.resolve("sensor").manifest == a)
        #expect(try await store.resolve("sensor:1.0").record?.reference.display == "sensor:1.0")
        #expect(try await store.resolve("abd2").manifest == b)
        #expect(try await store.resolve("sha256:abc1").manifest == a)
        #expect(try await store.resolve(a.description).manifest == a)
        #expect(try await store.resolve("pubsub@\(b)").manifest == b)
        await #expect {
            try await store.resolve("ab")
        } throws: { error in
            if case ImageStoreError.notFound = error { return true }
            return false
        }
        await #expect {
            try await store.resolve("abcd")
        } throws: { error in
            if case ImageStoreError.notFound = error { return true }
            return false
        }
        let c = try Digest(sha256Hex: "abc9" + String(repeating: "3", count: 60))
        try await store.tag(ImageReference(parsing: "other"), manifest: c)
        await #expect {
            try await store.resolve("abc")
        } throws: { error in
            if case ImageStoreError.ambiguous(_, 2) = error { return true }
            return false
        }
        await #expect {
            try await store.resolve("Bad Name")
        } throws: { error in
            if case ImageStoreError.invalidReference = error { return true }
            return false
        }
        #expect(await store.references(to: a).map(\.display) == ["sensor:1.0", "sensor:latest"])
        #expect(await store.roots() == [a, b, c])
    }

    @Test("untag removes one name; the file is replaced atomically with no temp files left")
    func untags() async throws {
        let dir = try TempDir()
        let store = try ImageStore(root: dir.url)
        let a = try Self.digest("a")
        try await store.tag(ImageReference(parsing: "one"), manifest: a, index: try Self.digest("f"))
        try await store.tag(ImageReference(parsing: "two"), manifest: a)
        #expect(await store.roots() == [a, try Self.digest("f")])
        try await store.untag(ImageReference(parsing: "one"))
        await #expect(throws: ImageStoreError.self) { try await store.untag(ImageReference(parsing: "one")) }
        #expect(try await ImageStore(root: dir.url).list().map(\.reference.display) == ["two:latest"])
        #expect(dir.contents("") == ["references.json"])
        try await store.untagAll(manifest: a)
        #expect(try await ImageStore(root: dir.url).list().isEmpty)
    }

    @Test("a corrupt references file is reported, not silently dropped")
    func corruptFile() throws {
        let dir = try TempDir()
        try Data("{\"version\":1,\"references\":{\"x\":".utf8).write(to: dir.url.appendingPathComponent("references.json"))
        #expect {
            try ImageStore(root: dir.url)
        } throws: { error in
            if case ImageStoreError.corrupt = error { return true }
            return false
        }
    }
}

@Suite("GarbageCollector")
struct GarbageCollectorTests {
    @Test("only blobs unreachable from the roots are removed, and the report counts them")
    func collects() async throws {
        let dir = try TempDir()
        let store = try LocalContentStore(root: dir.url)
        func put(_ data: Data) async throws -> Descriptor {
            let r = try await store.ingest(data: data, expecting: nil, size: nil)
            return Descriptor(mediaType: MediaType.ociLayerTarGzip, digest: r.digest, size: r.size)
        }
        let sharedLayer = try await put(Data("shared layer".utf8))
        let layerA = try await put(Data("layer a".utf8))
        let layerB = try await put(Data("layer b, unreferenced".utf8))
        var config = try await put(Data("{\"config a\":1}".utf8))
        config.mediaType = MediaType.ociConfig
        var configB = try await put(Data("{\"config b\":1}".utf8))
        configB.mediaType = MediaType.ociConfig
        let manifestA = ImageManifest(config: config, layers: [sharedLayer, layerA])
        let manifestB = ImageManifest(config: configB, layers: [sharedLayer, layerB])
        var mA = try await put(try manifestA.encoded()); mA.mediaType = MediaType.ociManifest
        var mB = try await put(try manifestB.encoded()); mB.mediaType = MediaType.ociManifest
        // An index whose other platform's manifest is absent.
        let absent = Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: Data("absent".utf8)), size: 1)
        let index = ImageIndex(manifests: [mA, absent])
        let indexDigest = try await put(try index.encoded()).digest
        let stray = try await put(Data("stray".utf8))

        let report = try await GarbageCollector.collect(in: store, roots: [indexDigest])
        #expect(Set(report.removed) == [mB.digest, configB.digest, layerB.digest, stray.digest])
        #expect(report.count == 4)
        #expect(report.reclaimedBytes == mB.size + configB.size + layerB.size + stray.size)
        #expect(Set(try await store.allDigests()) == [indexDigest, mA.digest, config.digest, sharedLayer.digest, layerA.digest])

        let again = try await GarbageCollector.collect(in: store, roots: [indexDigest])
        #expect(again.count == 0)
    }
}
