import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Brings images into the content store from an OCI image layout directory, an oci-archive
/// (a tar of a layout, as `skopeo copy … oci-archive:X` writes) or a docker-archive (as
/// `docker save` and `skopeo copy … docker-archive:X` write, with or without an OCI layout
/// inside). Tars may be gzip- or zstd-compressed.
///
/// Every blob is streamed into the store and verified; an archive may omit blobs the store
/// already has. Every referenced blob must exist and every media type must be known; when
/// anything is wrong the import throws and removes the blobs it added.
public struct ImageImporter: Sendable {
    public let content: LocalContentStore
    /// The platform chosen from image indexes.
    public let platform: Platform
    /// Bounds on an archive (decompressed bytes, entries, names, compression ratio): those of one layer.
    public let limits: LayerUnpacker.Configuration

    public init(content: LocalContentStore, platform: Platform = .host, limits: LayerUnpacker.Configuration = .init()) {
        self.content = content
        self.platform = platform
        self.limits = limits
    }

    /// What an import produced.
    public struct Result: Sendable {
        public var images: [ImportedImageRecord]
        /// Blobs that were not in the store before (kept ones only).
        public var addedBlobs: [Digest]
    }

    /// Imports the archive or layout directory at `url`. `tag` names the image when the
    /// archive holds exactly one.
    public func importImages(at url: URL, tag: ImageReference? = nil) async throws -> Result {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ImportError.io("\(url.path) does not exist")
        }
        let store = content
        var source: ImportSource
        if isDirectory.boolValue {
            source = try ImportSource.scanDirectory(url)
        } else {
            let limits = self.limits
            source = try await BlockingIO.run { try ImportSource.scanTar(url, into: store, limits: limits) }
        }
        do {
            var images = try await interpret(&source, path: url.path)
            if let tag {
                let distinct = Set(images.map(\.manifest.digest))
                guard distinct.count == 1 else { throw ImportError.tagNeedsOneImage(distinct.count) }
                for i in images.indices where !images[i].references.contains(tag) { images[i].references.append(tag) }
            }
            // Keep what the images need; drop other blobs the archive brought (other
            // platforms' manifests, docker-archive leftovers).
            var needed = Set<Digest>()
            for image in images {
                needed.insert(image.manifest.digest)
                needed.insert(image.config)
                if let index = image.index { needed.insert(index) }
                for layer in image.layers { needed.insert(layer.digest) }
            }
            needed.formUnion(source.indexesKept)
            for digest in source.added where !needed.contains(digest) { try await content.delete(digest) }
            return Result(images: images, addedBlobs: source.added.filter { needed.contains($0) })
        } catch {
            for digest in source.added { _ = try? await content.delete(digest) }
            throw error
        }
    }

    private func interpret(_ source: inout ImportSource, path: String) async throws -> [ImportedImageRecord] {
        if let indexData = try source.metadata("index.json") {
            return try await importLayout(&source, indexData: indexData)
        }
        if let manifestData = try source.metadata("manifest.json") {
            return try await importDockerArchive(&source, manifestData: manifestData)
        }
        throw ImportError.notAnImage(path)
    }

    // MARK: OCI image layout

    private func importLayout(_ source: inout ImportSource, indexData: Data) async throws -> [ImportedImageRecord] {
        if let header = try source.metadata("oci-layout") {
            let parsed: OCILayoutHeader
            do { parsed = try SpecJSON.decode(header, what: "oci-layout file", digest: nil) } catch {
                throw ImportError.invalidDocument(error.description)
            }
            guard parsed.imageLayoutVersion.hasPrefix("1.") else {
                throw ImportError.invalidDocument("image layout version \(parsed.imageLayoutVersion) is not supported (1.x is)")
            }
        }
        let index: ImageIndex
        do { index = try ImageIndex.decode(indexData) } catch { throw ImportError.invalidDocument("index.json: \(error.description)") }
        guard !index.manifests.isEmpty else { throw ImportError.invalidDocument("index.json lists no images") }
        var images: [ImportedImageRecord] = []
        for descriptor in index.manifests {
            var image = try await importDescriptor(descriptor, &source, depth: 0)
            if let reference = OCILayoutNames.reference(from: descriptor.annotations) { image.references = [reference] }
            images.append(image)
        }
        return images
    }

    /// Imports a manifest, or the host's manifest of an index (recursively, a few levels deep).
    private func importDescriptor(_ descriptor: Descriptor, _ source: inout ImportSource, depth: Int) async throws -> ImportedImageRecord {
        if MediaType.isManifest(descriptor.mediaType) {
            return try await importManifest(descriptor, &source)
        }
        guard MediaType.isIndex(descriptor.mediaType) else {
            throw ImportError.unknownMediaType(descriptor.mediaType, blob: descriptor.digest, role: "image")
        }
        guard depth < 4 else { throw ImportError.invalidDocument("image index \(descriptor.digest) nests too deeply") }
        let data = try await document(descriptor, &source, role: "image index")
        let index: ImageIndex
        do { index = try ImageIndex.decode(data, digest: descriptor.digest) } catch { throw ImportError.invalidDocument(error.description) }
        guard let chosen = Platform.bestMatch(in: index.manifests, for: platform) else {
            throw ImportError.noMatchingPlatform(index: descriptor.digest, host: platform,
                                                 available: index.manifests.compactMap { $0.platform?.description })
        }
        var image = try await importDescriptor(chosen, &source, depth: depth + 1)
        if let inner = image.index { source.indexesKept.insert(inner) }
        image.index = descriptor.digest
        image.skippedPlatforms = index.manifests.filter { $0.digest != chosen.digest }
            .map { $0.platform?.description ?? $0.digest.description }
        return image
    }

    private func importManifest(_ descriptor: Descriptor, _ source: inout ImportSource) async throws -> ImportedImageRecord {
        let data = try await document(descriptor, &source, role: "image manifest")
        let manifest: ImageManifest
        do { manifest = try ImageManifest.decode(data, digest: descriptor.digest) } catch {
            if case .unknownMediaType(let type, let blob, let role) = error {
                throw ImportError.unknownMediaType(type, blob: blob, role: role)
            }
            throw ImportError.invalidDocument(error.description)
        }
        let configData = try await document(manifest.config, &source, role: "config")
        let config: ImageConfig
        do { config = try ImageConfig.decode(configData, digest: manifest.config.digest) } catch {
            throw ImportError.invalidDocument(error.description)
        }
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImportError.invalidDocument("image config \(manifest.config.digest) lists \(config.rootfs.diffIDs.count) diff ids for \(manifest.layers.count) layers")
        }
        for layer in manifest.layers {
            try await requireBlob(layer, &source, role: "layer")
        }
        var described = descriptor
        described.annotations = nil
        described.platform = nil
        return ImportedImageRecord(references: [], manifest: described, index: nil, skippedPlatforms: [],
                                   config: manifest.config.digest, layers: manifest.layers)
    }

    /// Checks that a blob is present with the declared size.
    private func requireBlob(_ descriptor: Descriptor, _ source: inout ImportSource, role: String) async throws {
        guard try await source.ensureBlob(descriptor.digest, store: content) else {
            throw ImportError.missingBlob(descriptor.digest, role: role)
        }
        let size = try await content.size(of: descriptor.digest)
        guard size == descriptor.size else {
            throw ImportError.sizeMismatch(descriptor.digest, declared: descriptor.size, actual: size)
        }
    }

    /// A present, size-checked JSON blob.
    private func document(_ descriptor: Descriptor, _ source: inout ImportSource, role: String) async throws -> Data {
        try await requireBlob(descriptor, &source, role: role)
        do { return try await content.readDocument(descriptor.digest) } catch {
            throw ImportError.invalidDocument("\(role) \(descriptor.digest): \(error)")
        }
    }

    // MARK: docker-archive

    /// One entry of a docker-archive's `manifest.json`.
    struct DockerArchiveEntry: Decodable {
        var config: String
        var repoTags: [String]?
        var layers: [String]

        enum CodingKeys: String, CodingKey {
            case config = "Config", repoTags = "RepoTags", layers = "Layers"
        }
    }

    private func importDockerArchive(_ source: inout ImportSource, manifestData: Data) async throws -> [ImportedImageRecord] {
        let entries: [DockerArchiveEntry]
        do { entries = try JSONDecoder().decode([DockerArchiveEntry].self, from: manifestData) } catch {
            let reason = (error as? DecodingError).map(SpecJSON.describe) ?? "\(error)"
            throw ImportError.invalidDockerArchive("manifest.json: \(reason)")
        }
        guard !entries.isEmpty else { throw ImportError.invalidDockerArchive("manifest.json lists no images") }
        var images: [ImportedImageRecord] = []
        for entry in entries {
            guard let configBlob = try await source.fileBlob(entry.config, store: content) else {
                throw ImportError.invalidDockerArchive("its config \(entry.config) is not in the archive")
            }
            // `<hex>.json` names the config by its digest: check it.
            let configName = ((entry.config as NSString).lastPathComponent as NSString).deletingPathExtension
            if Digest.isSHA256Hex(configName), configName != configBlob.digest.encoded {
                throw ImportError.blobDoesNotVerify(configBlob.digest, "\(entry.config) is named for a different digest")
            }
            let configData = try await content.readDocument(configBlob.digest)
            let config: ImageConfig
            do { config = try ImageConfig.decode(configData, digest: configBlob.digest) } catch {
                throw ImportError.invalidDocument(error.description)
            }
            guard config.rootfs.diffIDs.count == entry.layers.count else {
                throw ImportError.invalidDockerArchive("config \(configBlob.digest) lists \(config.rootfs.diffIDs.count) diff ids for \(entry.layers.count) layers")
            }
            var layers: [Descriptor] = []
            for (i, layerPath) in entry.layers.enumerated() {
                guard let blob = try await source.fileBlob(layerPath, store: content) else {
                    throw ImportError.invalidDockerArchive("layer \(layerPath) is not in the archive")
                }
                let compression = try Self.compression(of: content.blobURL(for: blob.digest))
                if compression == .uncompressed && blob.digest != config.rootfs.diffIDs[i] {
                    throw ImportError.layerDoesNotMatchDiffID(layer: blob.digest, diffID: config.rootfs.diffIDs[i])
                }
                layers.append(Descriptor(mediaType: MediaType.ociLayerType(for: compression), digest: blob.digest, size: blob.size))
            }
            let manifest = ImageManifest(
                config: Descriptor(mediaType: MediaType.ociConfig, digest: configBlob.digest, size: configBlob.size),
                layers: layers)
            let manifestData = try manifest.encoded()
            let stored = try await content.ingest(data: manifestData, expecting: nil, size: nil)
            if stored.isNew { source.added.append(stored.digest) }
            var references: [ImageReference] = []
            for tag in entry.repoTags ?? [] {
                do { references.append(try ImageReference(parsing: tag)) } catch {
                    throw ImportError.invalidDockerArchive("RepoTags entry \"\(tag)\": \(error)")
                }
            }
            images.append(ImportedImageRecord(
                references: references,
                manifest: Descriptor(mediaType: MediaType.ociManifest, digest: stored.digest, size: stored.size),
                index: nil, skippedPlatforms: [], config: configBlob.digest, layers: layers))
        }
        return images
    }

    /// Compression of a layer file, from its first bytes.
    static func compression(of url: URL) throws -> MediaType.Compression {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImportError.io("cannot open \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var magic = [UInt8](repeating: 0, count: 4)
        let n = read(fd, &magic, 4)
        if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b { return .gzip }
        if n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd] { return .zstd }
        return .uncompressed
    }
}
