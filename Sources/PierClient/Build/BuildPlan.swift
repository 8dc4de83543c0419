import Foundation
import PierAPI
import PierImage
import PierOCI

/// A checked `pier image build`: the base to fetch from the agent, the layers to build, the config
/// changes and the name. ``build(with:)`` builds it on this machine and uploads only new blobs.
public struct BuildPlan: Sendable {
    /// The base image on the agent, nil for scratch.
    public var baseReference: String?
    public var layers: [ImageBuildRequest.Layer]
    public var changes: ImageConfigChanges
    public var tag: ImageReference?

    /// The builder's request, given the base's manifest and config as the agent stores them.
    public func request(base: ImageBuildRequest.Base?) -> ImageBuildRequest {
        ImageBuildRequest(base: base, layers: layers, changes: changes, tag: tag)
    }

    /// Fetches the base's manifest and config from the agent, builds into a temporary OCI layout
    /// holding only the new blobs, uploads it as a tar, and returns what the agent imported.
    public func build(with agent: AgentClient) async throws -> ImportedImage {
        var base: ImageBuildRequest.Base?
        if let baseReference {
            async let manifest = agent.imageManifest(baseReference)
            async let config = agent.imageConfig(baseReference)
            base = ImageBuildRequest.Base(manifest: try await manifest, config: try await config, reference: baseReference)
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("pier-build-\(UUID().uuidString.prefix(12))")
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        } catch {
            throw ClientError.file(path: work.path, reason: "cannot create the build directory: \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: work) }
        let layout = work.appendingPathComponent("layout")
        let result = try ImageBuilder().build(request(base: base), into: layout)
        let imported = try await agent.importImage(from: .directory(layout.path), tag: tag?.display)
        guard let image = imported.first(where: { $0.digest == result.manifest.digest.description }) ?? imported.first else {
            throw ClientError.badResponse(request: "POST /v1/images/import", reason: "the agent imported nothing from the build")
        }
        return image
    }
}
