/// A content descriptor (OCI image-spec v1.1, `descriptor.md`): what a blob is, its digest and size.
public struct Descriptor: Codable, Sendable, Hashable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    /// Only on descriptors inside an image index.
    public var platform: Platform?
    public var artifactType: String?

    public init(mediaType: String, digest: Digest, size: Int64, urls: [String]? = nil,
                annotations: [String: String]? = nil, platform: Platform? = nil, artifactType: String? = nil) {
        self.mediaType = mediaType; self.digest = digest; self.size = size; self.urls = urls
        self.annotations = annotations; self.platform = platform; self.artifactType = artifactType
    }
}
