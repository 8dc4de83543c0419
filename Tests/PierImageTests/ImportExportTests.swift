import PierTestSupport
import Foundation
import PierOCI
import Testing
@testable import PierImage

@Suite("Import and export", .timeLimit(.minutes(5)))
struct ImportExportTests {
    static let skopeo = "/usr/bin/skopeo"

    /// A scratch busybox image as an OCI layout named app:1.0.
    static func layout(_ dir: TempDir, name: String = "layout") throws -> ImageBuildResult {
        try Fixtures.build(try Fixtures.busyboxRequest(tag: "app:1.0"), in: dir, name: name)
    }

    static func snapshot(_ service: ImageService) async throws -> (blobs: [Digest], refs: [String]) {
        (try await service.content.allDigests(), await service.images.list().map(\.reference.canonical))
    }

    static func expectImportFails(_ service: ImageService, _ url: URL, tag: String? = nil, containing text: String,
                                  sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let before = try await snapshot(service)
        await #expect(sourceLocation: sourceLocation) {
            try await service.importArchive(at: url, tag: tag)
        } throws: { error in
            "\(error)".contains(text)
        }
        let after = try await snapshot(service)
        #expect(after.blobs == before.blobs, "the store is left as it was", sourceLocation: sourceLocation)
        #expect(after.refs == before.refs, sourceLocation: sourceLocation)
        #expect(Tools.listing(service.content.ingestDirectory).isEmpty, sourceLocation: sourceLocation)
    }

    @Test("an oci-archive written by skopeo imports, and its layers unpack", .requires(Requirement.executable(skopeo), "skopeo"))
    func importsSkopeoOCIArchive() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let archive = dir.path("skopeo-oci.tar")
        try Tools.run(Self.skopeo, ["copy", "--quiet", "oci:\(built.layout.path):app:1.0", "oci-archive:\(archive.path):sensor:2.0"])
        let service = try ImageService(root: dir.path("store"))
        let imported = try await service.importArchive(at: archive)
        #expect(imported.count == 1)
        #expect(imported[0].references.map(\.display) == ["sensor:2.0"])
        let image = try await service.resolve("sensor:2.0")
        #expect(image.config.config?.cmd == ["/bin/busybox", "sh"])
        let lower = try await service.prepareLayers(image)
        #expect(FileManager.default.fileExists(atPath: lower[0].appendingPathComponent("bin/busybox").path))
    }

    @Test("a docker-archive written by skopeo imports with its RepoTags", .requires(Requirement.executable(skopeo), "skopeo"))
    func importsSkopeoDockerArchive() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let archive = dir.path("docker.tar")
        try Tools.run(Self.skopeo, ["copy", "--quiet", "oci:\(built.layout.path):app:1.0", "docker-archive:\(archive.path):gateway/sensor:3.1"])
        let service = try ImageService(root: dir.path("store"))
        let imported = try await service.importArchive(at: archive)
        #expect(imported.count == 1)
        #expect(imported[0].references.map(\.display) == ["gateway/sensor:3.1"])
        let image = try await service.resolve("gateway/sensor:3.1")
        #expect(image.diffIDs == built.diffIDs)
        #expect(image.manifest.layers.allSatisfy { MediaType.isLayer($0.mediaType) })
        let lower = try await service.prepareLayers(image)
        #expect(FileManager.default.fileExists(atPath: lower[0].appendingPathComponent("bin/busybox").path))
        // With a tag argument the image gets that name too.
        let again = try await service.importArchive(at: archive, tag: "edge/sensor:latest")
        #expect(again[0].references.map(\.display) == ["gateway/sensor:3.1", "edge/sensor:latest"])
    }

    @Test("a legacy docker save archive (layer.tar directories, symlinked duplicates) imports")
    func importsLegacyDockerSave() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let blobs = built.layout.appendingPathComponent("blobs/sha256")
        let legacy = dir.path("legacy")
        let layerID = String(repeating: "a", count: 64), dupID = String(repeating: "b", count: 64)
        try FileManager.default.createDirectory(at: legacy.appendingPathComponent(layerID), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: legacy.appendingPathComponent(dupID), withIntermediateDirectories: true)
        // docker save stores layers uncompressed.
        let gz = try Data(contentsOf: blobs.appendingPathComponent(built.newLayers[0].digest.encoded))
        let tar = try Tools.run("/usr/bin/gzip", ["-dc"], input: gz)
        try tar.write(to: legacy.appendingPathComponent("\(layerID)/layer.tar"))
        try FileManager.default.createSymbolicLink(atPath: legacy.appendingPathComponent("\(dupID)/layer.tar").path,
                                                   withDestinationPath: "../\(layerID)/layer.tar")
        // A config whose two diff ids name the same layer, as an image with a repeated layer has.
        var config = try ImageConfig.decode(try Data(contentsOf: blobs.appendingPathComponent(built.config.digest.encoded)))
        config.rootfs.diffIDs = [built.diffIDs[0], built.diffIDs[0]]
        let configData = try config.encoded()
        let configName = "\(Digest.sha256(of: configData).encoded).json"
        try configData.write(to: legacy.appendingPathComponent(configName))
        try "1.0".write(to: legacy.appendingPathComponent("\(layerID)/VERSION"), atomically: true, encoding: .utf8)
        let manifest = "[{\"Config\":\"\(configName)\",\"RepoTags\":[\"legacy:1\"],\"Layers\":[\"\(layerID)/layer.tar\",\"\(dupID)/layer.tar\"]}]"
        try manifest.write(to: legacy.appendingPathComponent("manifest.json"), atomically: true, encoding: .utf8)
        let archive = dir.path("legacy.tar")
        try Tools.run("/usr/bin/tar", ["-cf", archive.path, "-C", legacy.path, "."])

        let service = try ImageService(root: dir.path("store"))
        let imported = try await service.importArchive(at: archive)
        #expect(imported[0].references.map(\.display) == ["legacy:1"])
        #expect(imported[0].layers.map(\.mediaType) == [MediaType.ociLayerTar, MediaType.ociLayerTar])
        #expect(imported[0].layers[0].digest == built.diffIDs[0])
        #expect(try await service.prepareLayers(try await service.resolve("legacy:1")).count == 2)
        // Only the layer, the config and the generated manifest are kept.
        #expect(try await service.content.allDigests().count == 3)
    }

    @Test("an export is accepted by skopeo inspect and skopeo copy, and is deterministic")
    func exportReadBySkopeo() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let service = try ImageService(root: dir.path("store"))
        _ = try await service.importArchive(at: built.layout)
        let exported = dir.path("export.tar")
        try await service.export(reference: "app:1.0", to: exported)
        let inspect = try Tools.run(Self.skopeo, ["inspect", "oci-archive:\(exported.path)"])
        let info = try JSONSerialization.jsonObject(with: inspect) as? [String: Any]
        #expect(info?["Digest"] as? String == built.manifest.digest.description)
        #expect(info?["Architecture"] as? String == Platform.host.architecture)
        let copied = dir.path("copied")
        try Tools.run(Self.skopeo, ["copy", "--quiet", "oci-archive:\(exported.path)", "oci:\(copied.path):copy"])
        #expect(Fixtures.blobs(copied).contains(built.newLayers[0].digest.encoded))
        #expect(Tools.listing(dir.url).allSatisfy { !$0.contains(".tmp-") })

        let again = dir.path("export2.tar")
        try await service.export(reference: built.manifest.digest.description, to: again)
        // Same image, same name (the digest resolves to app:1.0): same bytes.
        #expect(try Data(contentsOf: exported) == Data(contentsOf: again))

        // And the export imports back into a fresh store.
        let other = try ImageService(root: dir.path("store2"))
        let back = try await other.importArchive(at: exported)
        #expect(back[0].references.map(\.display) == ["app:1.0"])
        #expect(back[0].manifest.digest == built.manifest.digest)
    }

    @Test("an image layout directory imports, also gzip-compressed as a tar")
    func importsDirectoryAndCompressedTar() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let service = try ImageService(root: dir.path("store"))
        let fromDir = try await service.importArchive(at: built.layout)
        #expect(fromDir[0].manifest.digest == built.manifest.digest)
        let tar = try Fixtures.tar(built.layout, in: dir, name: "layout.tar")
        let gz = try Tools.compress(tar, .gzip)
        let other = try ImageService(root: dir.path("store2"))
        #expect(try await other.importArchive(at: gz)[0].manifest.digest == built.manifest.digest)
    }

    @Test("an index imports the host's manifest, keeps the index and records the skipped platforms")
    func importsIndex() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        var index = try Fixtures.index(built.layout)
        var host = index.manifests[0]
        host.annotations = nil
        host.platform = .host
        let foreignPlatform = Platform(os: "linux", architecture: Platform.host.architecture == "arm64" ? "amd64" : "arm64")
        // The other platform's manifest is not in the archive (as skopeo copies one platform).
        let foreign = Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: Data("elsewhere".utf8)), size: 9,
                                 platform: foreignPlatform)
        let inner = ImageIndex(manifests: [foreign, host])
        let innerData = try inner.encoded()
        let innerDigest = Digest.sha256(of: innerData)
        try innerData.write(to: built.layout.appendingPathComponent("blobs/sha256/\(innerDigest.encoded)"))
        index.manifests = [Descriptor(mediaType: MediaType.ociIndex, digest: innerDigest, size: Int64(innerData.count),
                                      annotations: [AnnotationKey.refName: "multi:1"])]
        try index.encoded().write(to: built.layout.appendingPathComponent("index.json"))

        let service = try ImageService(root: dir.path("store"))
        let imported = try await service.importArchive(at: try Fixtures.tar(built.layout, in: dir, name: "multi.tar"))
        #expect(imported[0].manifest.digest == built.manifest.digest)
        #expect(imported[0].index == innerDigest)
        #expect(imported[0].skippedPlatforms == [foreignPlatform.description])
        #expect(try await service.resolve("multi:1").manifestDigest == built.manifest.digest)
        #expect(try await service.resolve(innerDigest.description).manifestDigest == built.manifest.digest)
        #expect(await service.content.has(innerDigest))
        #expect(try await service.prune().removedBlobs.isEmpty)

        // An index with nothing for this host is refused.
        let wrong = ImageIndex(manifests: [foreign])
        let wrongData = try wrong.encoded()
        let wrongDigest = Digest.sha256(of: wrongData)
        try wrongData.write(to: built.layout.appendingPathComponent("blobs/sha256/\(wrongDigest.encoded)"))
        index.manifests = [Descriptor(mediaType: MediaType.ociIndex, digest: wrongDigest, size: Int64(wrongData.count))]
        try index.encoded().write(to: built.layout.appendingPathComponent("index.json"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "wrong.tar"), containing: "has no manifest for")
    }

    @Test("an archive may omit blobs the store already has; otherwise a missing blob is an error")
    func omittedBlobs() async throws {
        let dir = try TempDir()
        let (service, base) = try await ImageServiceTests.serviceWithBase(dir)
        // A derived image's layout has no base layer: fine with this store...
        let derived = try await ImageServiceTests.buildOnBase(service, dir, name: "derived", payload: "x")
        #expect(try await service.resolve("derived:1").manifest.layers.first?.digest == base.newLayers[0].digest)
        // ...but not with an empty one, which is left empty.
        let empty = try ImageService(root: dir.path("empty-store"))
        try await Self.expectImportFails(empty, try Fixtures.tar(derived.layout, in: dir, name: "derived-again.tar"),
                                         containing: "layer \(base.newLayers[0].digest) is neither in the archive nor in the content store")
    }

    @Test("a blob whose content does not match its name is refused and nothing is kept")
    func badDigest() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let layer = built.layout.appendingPathComponent("blobs/sha256/\(built.newLayers[0].digest.encoded)")
        var bytes = try Data(contentsOf: layer)
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: layer)
        let service = try ImageService(root: dir.path("store"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "bad.tar"),
                                         containing: "blob \(built.newLayers[0].digest) in the archive does not verify")
        try await Self.expectImportFails(service, built.layout, containing: "does not verify")
    }

    @Test("a truncated archive is refused and nothing is kept")
    func truncated() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let tar = try Fixtures.tar(built.layout, in: dir, name: "full.tar")
        let data = try Data(contentsOf: tar)
        for fraction in [0.3, 0.7, 0.99] {
            let cut = dir.path("cut-\(fraction).tar")
            try data.prefix(Int(Double(data.count) * fraction)).write(to: cut)
            let service = try ImageService(root: dir.path("store-\(fraction)"))
            try await Self.expectImportFails(service, cut, containing: "damaged or truncated")
        }
    }

    @Test("unknown media types are refused, naming the blob")
    func unknownMediaType() async throws {
        let dir = try TempDir()
        let built = try Self.layout(dir)
        let blobs = built.layout.appendingPathComponent("blobs/sha256")
        var manifest = try ImageManifest.decode(try Data(contentsOf: blobs.appendingPathComponent(built.manifest.digest.encoded)))
        manifest.layers[0].mediaType = "application/vnd.example.weird+tar"
        let data = try manifest.encoded()
        let digest = Digest.sha256(of: data)
        try data.write(to: blobs.appendingPathComponent(digest.encoded))
        var index = try Fixtures.index(built.layout)
        index.manifests[0].digest = digest
        index.manifests[0].size = Int64(data.count)
        try index.encoded().write(to: built.layout.appendingPathComponent("index.json"))
        let service = try ImageService(root: dir.path("store"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "weird.tar"),
                                         containing: "layer \(built.newLayers[0].digest) has unknown media type \"application/vnd.example.weird+tar\"")

        index.manifests[0].mediaType = "application/vnd.example.artifact"
        try index.encoded().write(to: built.layout.appendingPathComponent("index.json"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "artifact.tar"),
                                         containing: "unknown media type \"application/vnd.example.artifact\"")
    }

    @Test("descriptor sizes, manifest syntax and the archive kind are checked")
    func otherBadInput() async throws {
        let dir = try TempDir()
        let service = try ImageService(root: dir.path("store"))
        let built = try Self.layout(dir)
        var index = try Fixtures.index(built.layout)
        index.manifests[0].size += 1
        try index.encoded().write(to: built.layout.appendingPathComponent("index.json"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "size.tar"), containing: "but its descriptor says")

        try Data("{\"schemaVersion\": 2, \"manifests\": [".utf8).write(to: built.layout.appendingPathComponent("index.json"))
        try await Self.expectImportFails(service, try Fixtures.tar(built.layout, in: dir, name: "syntax.tar"), containing: "index.json")

        let notImage = dir.path("random.tar")
        let stuff = dir.path("stuff")
        try FileManager.default.createDirectory(at: stuff, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: stuff.appendingPathComponent("readme.txt"))
        try Tools.run("/usr/bin/tar", ["-cf", notImage.path, "-C", stuff.path, "."])
        try await Self.expectImportFails(service, notImage, containing: "neither an OCI image layout")

        let garbage = dir.path("garbage.tar")
        try Data((0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }).write(to: garbage)
        try await Self.expectImportFails(service, garbage, containing: "damaged or truncated")

        await #expect(throws: ImageServiceError.self) { try await service.importArchive(at: garbage, tag: "Not A Tag") }
    }

    @Test("a tag argument needs exactly one image")
    func tagNeedsOneImage() async throws {
        let dir = try TempDir()
        let one = try Fixtures.build(try Fixtures.busyboxRequest(tag: "a:1"), in: dir, name: "one")
        // Two different images in one layout.
        var request = try Fixtures.busyboxRequest(tag: "b:1")
        request.changes.cmd = ["/bin/busybox", "true"]
        let two = try Fixtures.build(request, in: dir, name: "two")
        for blob in Fixtures.blobs(two.layout) where !Fixtures.blobs(one.layout).contains(blob) {
            try FileManager.default.copyItem(at: two.layout.appendingPathComponent("blobs/sha256/\(blob)"),
                                             to: one.layout.appendingPathComponent("blobs/sha256/\(blob)"))
        }
        var index = try Fixtures.index(one.layout)
        index.manifests += try Fixtures.index(two.layout).manifests
        try index.encoded().write(to: one.layout.appendingPathComponent("index.json"))
        let service = try ImageService(root: dir.path("store"))
        try await Self.expectImportFails(service, one.layout, tag: "x:1", containing: "holds 2 images")
        let both = try await service.importArchive(at: one.layout)
        #expect(both.flatMap { $0.references.map(\.display) } == ["a:1", "b:1"])
    }
}
