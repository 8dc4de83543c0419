import Foundation
import PierAPI

/// Adapter from the image store (PierImage) to what the agent needs. (Wiring in progress.)
final class ImageBackend: ImageProvider {
    init(configuration: AgentConfiguration) async throws {}
    func runnable(_ reference: String) async throws -> RunnableImage { throw AgentError.noSuchImage(reference) }
    func layerPaths(_ image: RunnableImage) async throws -> [URL] { [] }
    func list() async throws -> [ImageSummary] { [] }
    func details(_ reference: String) async throws -> ImageDetails { throw AgentError.noSuchImage(reference) }
    func manifestBytes(_ reference: String) async throws -> Data { throw AgentError.noSuchImage(reference) }
    func configBytes(_ reference: String) async throws -> Data { throw AgentError.noSuchImage(reference) }
    func importArchive(at path: URL, tag: String?) async throws -> [ImportedImage] { throw AgentError.failed("not wired") }
    func export(_ reference: String, to path: URL) async throws { throw AgentError.noSuchImage(reference) }
    func tag(_ reference: String, as name: String) async throws { throw AgentError.noSuchImage(reference) }
    func remove(_ reference: String, inUse: Set<String>, force: Bool) async throws { throw AgentError.noSuchImage(reference) }
    func prune(pinned: Set<String>) async throws -> PruneReport { PruneReport(removedImages: [], removedBlobs: 0, removedLayers: 0, reclaimedBytes: 0) }
    func diskUsage() async throws -> DiskUsage { DiskUsage(images: [], contentStoreBytes: 0, unpackedLayerBytes: 0, unsharedTotalBytes: 0) }
    func count() async -> Int { 0 }
}
