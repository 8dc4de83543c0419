import Foundation

/// Which manifest a name points at: the image store's record for one reference.
public struct ImageRecord: Codable, Sendable, Hashable {
    public var reference: ImageReference
    /// The image manifest (for the host platform when the image came from an index).
    public var manifest: Digest
    /// The index the manifest was chosen from, kept so the image can be re-exported or re-resolved.
    public var index: Digest?
    /// When the reference was last set.
    public var tagged: Date

    public init(reference: ImageReference, manifest: Digest, index: Digest? = nil, tagged: Date = Date()) {
        self.reference = reference; self.manifest = manifest; self.index = index; self.tagged = tagged
    }
}
