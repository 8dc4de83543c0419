import Foundation
import PierOCI
import Testing
@testable import PierImage

@Suite("ImageService")
struct ImageServiceTests {
    /// A service over a fresh root, and the busybox base imported into it.
    static func serviceWithBase(_ dir: TempDir) async throws -> (ImageService, ImageBuildResult) {
        let service = try ImageService(root: dir.path("store"))
        let base = try Fixtures.build(try Fixtures.busyboxRequest(), in: dir, name: "base-layout")
        let imported = try await service.importArchive(at: try Fixtures.tar(base.layout, in: dir, name: "base.tar"))
        #expect(imported.map(\.manifest.digest) == [base.manifest.digest])
        return (service, base)
    }

    /// Builds `name` FROM base:1 with one layer holding `payload`, the way the CLI does: fetch the
    /// base's manifest and config from the service, build, upload only the new blobs.
    static func buildOnBase(_ service: ImageService, _ dir: TempDir, name: String, payload: String) async throws -> ImageBuildResult {
        let source = try Fixtures.sourceTree(in: dir, name: "src-\(name)", payload: payload)
        let request = ImageBuildRequest(
            base: .init(manifest: try await service.manifestBytes("base:1"), config: try await service.configBytes("base:1"), reference: "base:1"),
            layers: [.init(items: [.init(source: source, destination: "/app")], createdBy: "COPY . /app")],
            changes: ImageConfigChanges(entrypoint: ["/app/bin/run"]),
            tag: try ImageReference(parsing: "\(name):1"))
        let result = try Fixtures.build(request, in: dir, name: "\(name)-layout")
        #expect(Fixtures.blobs(result.layout).count == 3, "only the new layer, config and manifest")
        _ = try await service.importArchive(at: try Fixtures.tar(result.layout, in: dir, name: "\(name).tar"))
        return result
    }

    @Test("two images built from the same base store the base's blobs and unpacked layer once")
    func sharesBase() async throws {
        let dir = try TempDir()
        let (service, base) = try await Self.serviceWithBase(dir)
        let one = try await Self.buildOnBase(service, dir, name: "one", payload: "1")
        _ = try await Self.buildOnBase(service, dir, name: "two", payload: "2")

        let imageOne = try await service.resolve("one:1")
        let imageTwo = try await service.resolve("docker.io/library/two:1")
        #expect(imageOne.manifestDigest == one.manifest.digest)
        #expect(imageTwo.reference?.display == "two:1")
        let lowerOne = try await service.prepareLayers(imageOne)
        let lowerTwo = try await service.prepareLayers(imageTwo)
        // Top-most first: the app layer, then the base.
        #expect(lowerOne.count == 2 && lowerTwo.count == 2)
        #expect(lowerOne[1] == lowerTwo[1], "the base layer is unpacked once and shared")
        #expect(lowerOne[1].lastPathComponent == base.diffIDs[0].encoded)
        #expect(lowerOne[0] != lowerTwo[0])
        #expect(FileManager.default.fileExists(atPath: lowerOne[1].appendingPathComponent("bin/busybox").path))
        #expect(try String(contentsOf: lowerTwo[0].appendingPathComponent("app/etc/app/config.json"), encoding: .utf8) == "{\"payload\":\"2\"}")
        #expect(await service.layers.all().count == 3)
        // Content store: base layer + base config + base manifest + 2 × (layer, config, manifest).
        #expect(try await service.content.allDigests().count == 9)

        let listing = try await service.list()
        #expect(listing.map { $0.references.map(\.display) } == [["base:1"], ["one:1"], ["two:1"]])
        let baseLayerSize = base.newLayers[0].size
        #expect(listing.allSatisfy { $0.sharedSize == baseLayerSize })
        let usage = try await service.diskUsage()
        #expect(usage.unsharedTotalBytes > usage.contentStoreBytes, "sharing saves the base twice")
        #expect(usage.unpackedLayerBytes > 0)
    }

    @Test("prune and remove delete only what no image, pinned manifest or other image needs")
    func pruneAndRemove() async throws {
        let dir = try TempDir()
        let (service, base) = try await Self.serviceWithBase(dir)
        let one = try await Self.buildOnBase(service, dir, name: "one", payload: "1")
        let two = try await Self.buildOnBase(service, dir, name: "two", payload: "2")
        _ = try await service.prepareLayers(try await service.resolve("one:1"))
        _ = try await service.prepareLayers(try await service.resolve("two:1"))

        // Nothing is unreferenced yet.
        let nothing = try await service.prune()
        #expect(nothing.removedBlobs.isEmpty && nothing.removedLayers.isEmpty)

        // A used image needs force; forced, its blobs stay while pinned.
        await #expect {
            try await service.remove("one:1", pinned: [one.manifest.digest])
        } throws: { error in
            if case ImageServiceError.conflict = error { return true }
            return false
        }
        let forced = try await service.remove("one:1", force: true, pinned: [one.manifest.digest])
        #expect(forced.untagged.map(\.display) == ["one:1"])
        #expect(forced.pruned.removedBlobs.isEmpty)
        #expect(await service.content.has(one.newLayers[0].digest))
        await #expect(throws: ImageServiceError.self) { try await service.resolve("one:1") }
        #expect(try await service.resolve(one.manifest.digest.description).manifestDigest == one.manifest.digest)

        // Unpinned, a prune removes its layer, config, manifest and unpacked layer — only those.
        let pruned = try await service.prune(pinned: [])
        #expect(Set(pruned.removedBlobs) == [one.manifest.digest, one.config.digest, one.newLayers[0].digest])
        #expect(pruned.removedLayers == [one.diffIDs[1]])
        #expect(pruned.reclaimedBytes > 0)
        #expect(await service.content.has(base.newLayers[0].digest))
        #expect(service.layers.isUnpacked(base.diffIDs[0]))
        #expect(service.layers.isUnpacked(two.diffIDs[1]))

        // Removing two frees its own blobs at once; the base stays for base:1.
        let removed = try await service.remove("two:1")
        #expect(Set(removed.pruned.removedBlobs) == [two.manifest.digest, two.config.digest, two.newLayers[0].digest])
        #expect(await service.layers.all() == [base.diffIDs[0]])
        await #expect {
            try await service.remove("nope:1")
        } throws: { error in
            if case ImageServiceError.notFound = error { return true }
            return false
        }
    }

    @Test("tag adds a name; removing by digest with several names needs force")
    func tags() async throws {
        let dir = try TempDir()
        let (service, base) = try await Self.serviceWithBase(dir)
        try await service.tag("base:1", as: "localhost:5000/base:edge")
        #expect(try await service.resolve("localhost:5000/base:edge").manifestDigest == base.manifest.digest)
        await #expect {
            try await service.remove(base.manifest.digest.description)
        } throws: { error in
            if case ImageServiceError.conflict = error { return true }
            return false
        }
        let removal = try await service.remove(String(base.manifest.digest.encoded.prefix(8)), force: true)
        #expect(removal.untagged.count == 2)
        #expect(try await service.list().isEmpty)
        #expect(try await service.content.allDigests().isEmpty)
        await #expect(throws: ImageServiceError.self) { try await service.tag("base:1", as: "BAD NAME") }
    }

    @Test("reopening the service finds everything again; stale unpack and ingest leftovers are removed")
    func survivesRestart() async throws {
        let dir = try TempDir()
        let root = dir.path("store")
        let digest: Digest
        do {
            let (service, base) = try await Self.serviceWithBase(dir)
            digest = base.manifest.digest
            _ = try await service.prepareLayers(try await service.resolve("base:1"))
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("layers/.tmp-unpack-dead/etc"), withIntermediateDirectories: true)
        try Data("half".utf8).write(to: root.appendingPathComponent("ingest/99999999-beef"))
        let service = try ImageService(root: root)
        #expect(try await service.resolve("base:1").manifestDigest == digest)
        #expect(Tools.listing(root.appendingPathComponent("layers")).allSatisfy { !$0.hasPrefix(".tmp") })
        #expect(Tools.listing(root.appendingPathComponent("ingest")).isEmpty)
        #expect(await service.layers.all().count == 1)
    }

    @Test("concurrent requests for the same layer share one unpack")
    func concurrentPrepare() async throws {
        let dir = try TempDir()
        let (service, _) = try await Self.serviceWithBase(dir)
        let image = try await service.resolve("base:1")
        let results = try await withThrowingTaskGroup(of: [URL].self) { group in
            for _ in 0..<6 { group.addTask { try await service.prepareLayers(image) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(results).count == 1)
        #expect(Tools.listing(service.layers.directory).filter { !$0.contains("/") }.count == 1)
    }
}
