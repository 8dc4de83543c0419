import Foundation

/// An image index (OCI image-spec v1.1, `image-index.md`; also reads Docker manifest lists).
public struct ImageIndex: Codable, Sendable, Hashable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String? = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        self.schemaVersion = 2; self.mediaType = mediaType; self.manifests = manifests; self.annotations = annotations
    }

    /// Decodes and validates an index: schema version 2 and, when present, an index media type.
    public static func decode(_ data: Data, digest: Digest? = nil) throws(ImageSpecError) -> ImageIndex {
        let index: ImageIndex = try SpecJSON.decode(data, what: "image index", digest: digest)
        guard index.schemaVersion == 2 else {
            throw .unsupportedSchemaVersion(index.schemaVersion, what: "image index", digest: digest)
        }
        if let type = index.mediaType, !MediaType.isIndex(type) {
            throw .unexpectedMediaType(type, what: "image index", digest: digest)
        }
        return index
    }

    /// The index as canonical JSON.
    public func encoded() throws -> Data { try SpecJSON.encode(self) }
}
