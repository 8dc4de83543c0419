import Foundation
import PierOCI

/// The image side of the agent: the content store, the references, and the unpacked layers,
/// all under one root:
///
/// ```
/// <root>/blobs/sha256/<hex>     verified blobs (LocalContentStore)
/// <root>/ingest/                blobs being written
/// <root>/references.json        name → manifest digest (ImageStore)
/// <root>/layers/<diff id hex>/  unpacked layers, overlayfs lower dirs (LayerStore)
/// ```
///
/// Imports, removals, tags and prunes run one at a time, so garbage collection never sees an
/// import half done. Layers being prepared count as pinned until `prepareLayers` returns.
public actor ImageService {
    /// Settings with defaults.
    public struct Configuration: Sendable {
        /// Limits for unpacking one layer.
        public var unpack: LayerUnpacker.Configuration
        /// The platform chosen from multi-platform images.
        public var platform: Platform

        public init(unpack: LayerUnpacker.Configuration = .init(), platform: Platform = .host) {
            self.unpack = unpack; self.platform = platform
        }
    }

    public nonisolated let root: URL
    public nonisolated let content: LocalContentStore
    public nonisolated let images: ImageStore
    public nonisolated let layers: LayerStore
    public nonisolated let configuration: Configuration

    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var preparing: [Digest: Int] = [:]

    /// Opens (creating if needed) the stores under `root`; removes leftovers of killed processes.
    public init(root: URL, configuration: Configuration = Configuration()) throws {
        self.root = root
        self.configuration = configuration
        self.content = try LocalContentStore(root: root)
        self.images = try ImageStore(root: root)
        self.layers = try LayerStore(root: root, content: content, unpacker: LayerUnpacker(configuration: configuration.unpack))
    }

    // MARK: Import and export

    /// Imports an oci-archive, docker-archive, OCI layout tar or layout directory; tags the
    /// images with their names from the archive and with `tag` (when it holds one image).
    public func importArchive(at url: URL, tag: String? = nil) async throws -> [ImportedImageRecord] {
        var reference: ImageReference?
        if let tag {
            do { reference = try ImageReference(parsing: tag) } catch { throw ImageServiceError.invalid(error.description) }
        }
        return try await exclusive {
            let importer = ImageImporter(content: content, platform: configuration.platform, limits: configuration.unpack)
            let result: ImageImporter.Result
            do { result = try await importer.importImages(at: url, tag: reference) } catch let error as ImportError {
                throw ImageServiceError.invalid(error.description)
            }
            do {
                for image in result.images {
                    for name in image.references {
                        try await images.tag(name, manifest: image.manifest.digest, index: image.index)
                    }
                }
            } catch {
                let keep = try await GarbageCollector.reachable(from: await images.roots(), in: content)
                for digest in result.addedBlobs where !keep.contains(digest) { _ = try? await content.delete(digest) }
                throw error
            }
            return result.images
        }
    }

    /// Writes the image as an oci-archive to `destination`.
    public func export(reference: String, to destination: URL) async throws {
        let image = try await resolve(reference)
        try await ImageExporter(content: content).export(manifest: image.manifestDigest, reference: image.reference, to: destination)
    }

    // MARK: Lookup

    /// Finds an image by reference (`app:1.0`), `name@sha256:…`, digest or unique digest prefix.
    public func resolve(_ string: String) async throws -> ResolvedImage {
        let found: ResolvedReference
        do { found = try await images.resolve(string) } catch let error as ImageStoreError {
            switch error {
            case .notFound: throw ImageServiceError.notFound(error.description)
            case .ambiguous, .invalidReference: throw ImageServiceError.invalid(error.description)
            default: throw error
            }
        }
        guard await content.has(found.manifest) else {
            throw ImageServiceError.notFound("no image \"\(string)\" in the store (manifest \(found.manifest) is not present)")
        }
        var reference = found.record?.reference
        if reference == nil {
            reference = await images.references(to: found.manifest).first
        }
        return try await load(manifest: found.manifest, reference: reference, depth: 0)
    }

    private func load(manifest digest: Digest, reference: ImageReference?, depth: Int) async throws -> ResolvedImage {
        let data = try await content.readDocument(digest)
        if let probe = try? JSONDecoder().decode(MediaTypeProbe.self, from: data),
           MediaType.isIndex(probe.mediaType) || (probe.mediaType == nil && probe.manifests != nil) {
            let index = try ImageIndex.decode(data, digest: digest)
            guard depth < 4, let chosen = Platform.bestMatch(in: index.manifests, for: configuration.platform),
                  await content.has(chosen.digest) else {
                throw ImageServiceError.notFound("image index \(digest) has no manifest for \(configuration.platform) in the store")
            }
            return try await load(manifest: chosen.digest, reference: reference, depth: depth + 1)
        }
        let manifest = try ImageManifest.decode(data, digest: digest)
        let configData = try await content.readDocument(manifest.config.digest)
        let config = try ImageConfig.decode(configData, digest: manifest.config.digest)
        guard config.rootfs.diffIDs.count == manifest.layers.count else {
            throw ImageServiceError.invalid("image \(digest) lists \(manifest.layers.count) layers but \(config.rootfs.diffIDs.count) diff ids")
        }
        return ResolvedImage(reference: reference, manifestDigest: digest, manifest: manifest,
                             configDigest: manifest.config.digest, config: config)
    }

    private struct MediaTypeProbe: Decodable {
        var mediaType: String?
        var manifests: [Descriptor]?
    }

    /// The manifest's bytes exactly as stored (for builds on top of the image).
    public func manifestBytes(_ reference: String) async throws -> Data {
        let image = try await resolve(reference)
        return try await content.readDocument(image.manifestDigest)
    }

    /// The config's bytes exactly as stored.
    public func configBytes(_ reference: String) async throws -> Data {
        let image = try await resolve(reference)
        return try await content.readDocument(image.configDigest)
    }

    // MARK: Layers

    /// Unpacks the image's layers (each diff id once, shared between images) and returns their
    /// directories **top-most first**, the order overlayfs's `lowerdir=` wants.
    public func prepareLayers(_ image: ResolvedImage) async throws -> [URL] {
        preparing[image.manifestDigest, default: 0] += 1
        defer {
            preparing[image.manifestDigest, default: 1] -= 1
            if preparing[image.manifestDigest] == 0 { preparing[image.manifestDigest] = nil }
        }
        let pairs = Array(zip(image.manifest.layers, image.config.rootfs.diffIDs))
        let store = layers
        // Two at a time: enough to overlap I/O and decompression on a small device.
        var urls = [URL?](repeating: nil, count: pairs.count)
        try await withThrowingTaskGroup(of: (Int, URL).self) { group in
            var next = 0
            func start() {
                guard next < pairs.count else { return }
                let i = next
                next += 1
                let (layer, diffID) = pairs[i]
                group.addTask { (i, try await store.ensureUnpacked(layer: layer, diffID: diffID)) }
            }
            start(); start()
            while let (i, url) = try await group.next() {
                urls[i] = url
                start()
            }
        }
        return urls.compactMap { $0 }.reversed()
    }

    // MARK: Listing

    /// Every tagged image (one entry per manifest, with all its references).
    public func list() async throws -> [ImageListing] {
        let records = await images.list()
        var byManifest: [Digest: [ImageReference]] = [:]
        for record in records { byManifest[record.manifest, default: []].append(record.reference) }
        var listings: [ImageListing] = []
        for (digest, references) in byManifest {
            guard let image = try? await load(manifest: digest, reference: references.first, depth: 0) else { continue }
            let manifestSize = (try? await content.size(of: digest)) ?? 0
            let configSize = image.manifest.config.size
            let size = manifestSize + configSize + image.manifest.layers.reduce(0) { $0 + $1.size }
            listings.append(ImageListing(
                references: references.sorted { $0.canonical < $1.canonical }, manifestDigest: image.manifestDigest,
                configDigest: image.configDigest, platform: image.config.platform, size: size, sharedSize: 0,
                layers: image.manifest.layers, created: image.config.createdDate))
        }
        // A layer is shared when two different images use it.
        var users: [Digest: Int] = [:]
        for listing in listings {
            for digest in Set(listing.layers.map(\.digest)) { users[digest, default: 0] += 1 }
        }
        for i in listings.indices {
            var seen = Set<Digest>()
            listings[i].sharedSize = listings[i].layers.reduce(0) { total, layer in
                guard (users[layer.digest] ?? 0) > 1, seen.insert(layer.digest).inserted else { return total }
                return total + layer.size
            }
        }
        return listings.sorted {
            ($0.references.first?.canonical ?? $0.manifestDigest.description) < ($1.references.first?.canonical ?? $1.manifestDigest.description)
        }
    }

    /// Bytes in the content store and in unpacked layers, and what sharing saves.
    public func diskUsage() async throws -> ImageDiskUsage {
        let listings = try await list()
        return ImageDiskUsage(images: listings, contentStoreBytes: try await content.totalBytes(),
                              unpackedLayerBytes: await layers.totalBytes(),
                              unsharedTotalBytes: listings.reduce(0) { $0 + $1.size })
    }

    // MARK: Changes

    /// Adds the name `target` for the image `source` refers to.
    public func tag(_ source: String, as target: String) async throws {
        let reference: ImageReference
        do { reference = try ImageReference(parsing: target) } catch { throw ImageServiceError.invalid(error.description) }
        guard reference.digest == nil else { throw ImageServiceError.invalid("a tag cannot contain a digest (\(target))") }
        let image = try await resolve(source)
        try await exclusive {
            let record = try? await images.resolve(source).record
            try await images.tag(reference, manifest: image.manifestDigest, index: record?.index)
        }
    }

    /// Removes a name, or with a digest every name of that image (several names need `force`).
    /// An image that a container uses (its manifest in `pinned`) needs `force`; its blobs stay
    /// while it is pinned. Blobs and layers nothing else uses are deleted.
    public func remove(_ string: String, force: Bool = false, pinned: Set<Digest> = []) async throws -> ImageRemoval {
        try await exclusive {
            let found: ResolvedReference
            do { found = try await images.resolve(string) } catch let error as ImageStoreError {
                if case .notFound = error { throw ImageServiceError.notFound(error.description) }
                throw ImageServiceError.invalid(error.description)
            }
            if pinned.contains(found.manifest) && !force {
                throw ImageServiceError.conflict("image \(string) is used by a container; stop and remove the container first, or force")
            }
            var untagged: [ImageReference] = []
            let byName = (try? ImageReference(parsing: string)).flatMap { r in r.digest == nil ? r : nil }
            if let byName, let record = await images.record(for: byName), record.manifest == found.manifest {
                untagged.append(try await images.untag(byName).reference)
            } else {
                let names = await images.references(to: found.manifest)
                if names.count > 1 && !force {
                    throw ImageServiceError.conflict("image \(found.manifest.shortHex) has \(names.count) names (\(names.map(\.display).joined(separator: ", "))); remove them one by one or force")
                }
                untagged = try await images.untagAll(manifest: found.manifest).map(\.reference)
                let present = await content.has(found.manifest)
                if untagged.isEmpty && !present {
                    throw ImageServiceError.notFound("no image \"\(string)\" in the store")
                }
            }
            let pruned = try await collect(pinned: pinned)
            return ImageRemoval(untagged: untagged, pruned: pruned)
        }
    }

    /// Deletes every blob and unpacked layer that no tagged image, no pinned manifest (images
    /// used by containers) and no layer preparation needs.
    public func prune(pinned: Set<Digest> = []) async throws -> ImagePruneResult {
        try await exclusive { try await collect(pinned: pinned) }
    }

    private func collect(pinned: Set<Digest>) async throws -> ImagePruneResult {
        let roots = (await images.roots()).union(pinned).union(preparing.keys)
        let reachable = try await GarbageCollector.reachable(from: roots, in: content)
        // The diff ids of every image still reachable keep their unpacked layers.
        var keepLayers = Set<Digest>()
        for digest in reachable {
            guard let data = try? await content.readDocument(digest),
                  let manifest = try? ImageManifest.decode(data, digest: digest),
                  let configData = try? await content.readDocument(manifest.config.digest),
                  let config = try? ImageConfig.decode(configData) else { continue }
            keepLayers.formUnion(config.rootfs.diffIDs)
        }
        let blobs = try await GarbageCollector.collect(in: content, roots: roots)
        let removedLayers = try await layers.collectGarbage(keeping: keepLayers)
        return ImagePruneResult(removedBlobs: blobs.removed, removedLayers: removedLayers.removed,
                                reclaimedBytes: blobs.reclaimedBytes + removedLayers.bytes)
    }

    /// Runs `body` when no other import, removal, tag or prune is running.
    private func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        while busy {
            await withCheckedContinuation { waiters.append($0) }
        }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
