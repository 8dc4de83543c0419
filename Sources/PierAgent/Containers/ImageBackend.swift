import Foundation
import PierAPI
import PierImage
import PierOCI
import PierRegistry
import Synchronization

/// Adapter from the image store (`PierImage.ImageService`) to what the agent serves.
final class ImageBackend: ImageProvider {
    let service: ImageService
    /// Images already resolved, by manifest digest. A digest names immutable content, so an entry
    /// stays right until the image may be deleted (remove, prune). Saves re-reading and decoding
    /// manifest and config on every start of a container (a `run` resolves its image three times).
    private let resolved = Mutex<[String: ResolvedImage]>([:])

    let transfers: RegistryTransfers

    init(configuration: AgentConfiguration) async throws {
        var unpack = LayerUnpacker.Configuration()
        unpack.maxBytes = configuration.maxLayerBytes
        service = try ImageService(root: configuration.dataRoot, configuration: .init(unpack: unpack))
        transfers = RegistryTransfers(
            content: service.content, images: service.images, layers: service.layers, dataRoot: configuration.dataRoot,
            maxConcurrentDownloads: configuration.maxConcurrentDownloads)
    }

    func pull(_ request: RegistryTransferRequest, progress: (@Sendable (String) -> Void)?) async throws -> RegistryTransferResult {
        try await transfers.pull(request, progress: progress.map(PullProgress.init(emit:)))
    }

    func push(_ request: RegistryTransferRequest) async throws -> RegistryTransferResult { try await transfers.push(request) }

    /// Runs `body`, turning the image service's errors into the agent's.
    private func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as ImageServiceError {
            switch error {
            case .notFound(let m): throw AgentError.noSuchImageMessage(m)
            case .conflict(let m): throw AgentError.conflict(m)
            case .invalid(let m): throw AgentError.invalid(m)
            }
        }
    }

    /// Resolves `reference`, from the cache when it is a manifest digest already seen.
    private func resolve(_ reference: String) async throws -> ResolvedImage {
        if let hit = resolved.withLock({ $0[reference] }) { return hit }
        let image = try await mapped { try await service.resolve(reference) }
        resolved.withLock { $0[image.manifestDigest.description] = image }
        return image
    }

    func runnable(_ reference: String) async throws -> RunnableImage {
        let image = try await resolve(reference)
        let c = image.config.config
        return RunnableImage(
            reference: image.reference?.display ?? image.manifestDigest.description,
            digest: image.manifestDigest.description, entrypoint: c?.entrypoint, cmd: c?.cmd, env: c?.env ?? [],
            workdir: c?.workingDir, user: c?.user, stopSignal: c?.stopSignal, labels: c?.labels ?? [:],
            architecture: image.config.architecture)
    }

    func layerPaths(_ image: RunnableImage) async throws -> [URL] {
        let resolved = try await resolve(image.digest)
        return try await mapped { try await service.prepareLayers(resolved) }
    }

    private func summary(_ l: ImageListing) -> ImageSummary {
        ImageSummary(tags: l.references.map(\.display), digest: l.manifestDigest.description,
                     platform: l.platform.description, size: l.size, sharedSize: l.sharedSize,
                     layers: l.layers.count, created: l.created)
    }

    func list() async throws -> [ImageSummary] {
        try await mapped { try await service.list().map(summary) }
    }

    func details(_ reference: String) async throws -> ImageDetails {
        try await mapped {
            let image = try await service.resolve(reference)
            let listing = try await service.list().first { $0.manifestDigest == image.manifestDigest }
            let size = image.manifest.layers.reduce(image.manifest.config.size) { $0 + $1.size }
            let s = listing.map(summary) ?? ImageSummary(
                tags: [], digest: image.manifestDigest.description, platform: image.config.platform.description,
                size: size, sharedSize: 0, layers: image.manifest.layers.count, created: image.config.createdDate)
            let c = image.config.config
            return ImageDetails(
                summary: s, manifestMediaType: image.manifest.mediaType ?? MediaType.ociManifest,
                configDigest: image.configDigest.description, layerDigests: image.manifest.layers.map(\.digest.description),
                diffIDs: image.diffIDs.map(\.description), entrypoint: c?.entrypoint, cmd: c?.cmd, env: c?.env ?? [],
                workdir: c?.workingDir, user: c?.user, labels: c?.labels ?? [:])
        }
    }

    func manifestBytes(_ reference: String) async throws -> Data {
        try await mapped { try await service.manifestBytes(reference) }
    }

    func configBytes(_ reference: String) async throws -> Data {
        try await mapped { try await service.configBytes(reference) }
    }

    func importArchive(at path: URL, tag: String?) async throws -> [ImportedImage] {
        try await mapped {
            let requested = tag.flatMap { try? ImageReference(parsing: $0) }
            return try await service.importArchive(at: path, tag: tag).map { record in
                // The name the user asked for first, then the archive's own.
                let name = record.references.first { $0 == requested } ?? record.references.first
                return ImportedImage(name: name?.display, digest: record.manifest.digest.description)
            }
        }
    }

    func export(_ reference: String, to path: URL) async throws {
        try await mapped { try await service.export(reference: reference, to: path) }
    }

    func tag(_ reference: String, as name: String) async throws {
        try await mapped { try await service.tag(reference, as: name) }
    }

    func remove(_ reference: String, inUse: Set<String>, force: Bool) async throws {
        let pinned = Set(inUse.compactMap { try? Digest(parsing: $0) })
        resolved.withLock { $0.removeAll() }
        _ = try await mapped { try await service.remove(reference, force: force, pinned: pinned) }
    }

    func prune(pinned: Set<String>) async throws -> PruneReport {
        let digests = Set(pinned.compactMap { try? Digest(parsing: $0) })
        resolved.withLock { $0.removeAll() }
        let before = Set(try await service.list().map(\.manifestDigest.description))
        let result = try await mapped { try await service.prune(pinned: digests) }
        let after = Set(try await service.list().map(\.manifestDigest.description))
        return PruneReport(removedImages: Array(before.subtracting(after)).sorted(), removedBlobs: result.removedBlobs.count,
                           removedLayers: result.removedLayers.count, reclaimedBytes: result.reclaimedBytes)
    }

    func diskUsage() async throws -> DiskUsage {
        try await mapped {
            let du = try await service.diskUsage()
            return DiskUsage(images: du.images.map(summary), contentStoreBytes: du.contentStoreBytes,
                             unpackedLayerBytes: du.unpackedLayerBytes, unsharedTotalBytes: du.unsharedTotalBytes)
        }
    }

    func count() async -> Int { (try? await service.list().count) ?? 0 }

    func signatures(_ reference: String) async throws -> [SignatureBlob] {
        try await mapped { try await service.signatures(of: reference) }
    }

    func addSignature(_ signature: SignatureBlob, to reference: String) async throws -> String {
        try await mapped { try await service.addSignature(signature, to: reference).description }
    }

    func downloadAnalysis(_ request: DownloadAnalysisRequest) async throws -> DownloadAnalysis {
        guard !request.images.isEmpty else { throw AgentError.invalid("name at least one image to analyse") }
        let cost = try await mapped { try await service.downloadCost(of: request.images, from: request.from) }
        var result = DownloadAnalysis(
            images: cost.images.map {
                .init(name: $0.name, digest: $0.manifest.description, bytes: $0.blobs.values.reduce(0, +), uniqueBytes: cost.uniqueBytes(of: $0))
            },
            installBytes: cost.installBytes, separateBytes: cost.separateBytes)
        guard !request.from.isEmpty else { return result }
        let update = cost.updateBlobs
        result.updateBytes = update.values.reduce(0, +)
        if request.deltas {
            guard let zstd = RegistryDeltas.defaultZstd else { throw AgentError.failed("--deltas needs zstd, which is not installed") }
            var total = result.updateBytes ?? 0, layers = 0
            for (target, base) in cost.deltaBases {
                guard let whole = update[target], let patch = await patchSize(from: base, to: target, zstd: zstd), patch * 2 < whole else { continue }
                total -= whole - patch
                layers += 1
            }
            result.deltaBytes = total
            result.deltaLayers = layers
        }
        return result
    }

    /// The size of the patch Pier's registry would send from blob `base` to blob `target`.
    private func patchSize(from base: Digest, to target: Digest, zstd: String) async -> Int64? {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pier-patch-\(UUID().uuidString).zst")
        defer { try? FileManager.default.removeItem(at: output) }
        let content = service.content
        guard await RegistryDeltas.makePatch(zstd: zstd, base: content.blobURL(for: base), target: content.blobURL(for: target), output: output)
        else { return nil }
        return (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? NSNumber)?.int64Value
    }

    func requireSignature(_ reference: String, trusted: [TrustedKey]) async throws {
        try await mapped { _ = try await service.requireSignature(reference, trusted: trusted) }
    }
}
