import Foundation

/// An image manifest (OCI image-spec v1.1, `manifest.md`; also reads Docker v2 schema 2 manifests,
/// which have the same shape).
public struct ImageManifest: Codable, Sendable, Hashable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String? = MediaType.ociManifest, config: Descriptor, layers: [Descriptor],
                annotations: [String: String]? = nil, subject: Descriptor? = nil, artifactType: String? = nil) {
        self.schemaVersion = 2; self.mediaType = mediaType; self.config = config; self.layers = layers
        self.annotations = annotations; self.subject = subject; self.artifactType = artifactType
    }

    /// Decodes and validates a manifest: schema version 2, a known config media type, known layer
    /// media types. `digest` only names the blob in errors.
    public static func decode(_ data: Data, digest: Digest? = nil) throws(ImageSpecError) -> ImageManifest {
        let manifest: ImageManifest = try SpecJSON.decode(data, what: "image manifest", digest: digest)
        guard manifest.schemaVersion == 2 else {
            throw .unsupportedSchemaVersion(manifest.schemaVersion, what: "image manifest", digest: digest)
        }
        if let type = manifest.mediaType, !MediaType.isManifest(type) {
            throw .unexpectedMediaType(type, what: "image manifest", digest: digest)
        }
        guard MediaType.isConfig(manifest.config.mediaType) else {
            throw .unknownMediaType(manifest.config.mediaType, blob: manifest.config.digest, role: "config")
        }
        for layer in manifest.layers where !MediaType.isLayer(layer.mediaType) {
            throw .unknownMediaType(layer.mediaType, blob: layer.digest, role: "layer")
        }
        return manifest
    }

    /// The manifest as canonical JSON (sorted keys, no escaped slashes), as Pier writes it.
    public func encoded() throws -> Data { try SpecJSON.encode(self) }
}
