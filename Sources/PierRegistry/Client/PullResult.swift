import PierOCI

/// What a pull stored.
public struct PullResult: Sendable, Hashable {
    /// The image manifest for the chosen platform: the digest to pin.
    public var manifest: Digest
    /// The index the manifest was chosen from, when the reference named an index.
    public var index: Digest?
    /// The digest the reference resolved to on the registry (the index's, or the manifest's).
    public var resolved: Digest
    public var config: Digest
    public var layers: [Descriptor]
    /// The local reference that was tagged; nil for a pull by digest without `tagAs`.
    public var reference: ImageReference?
    /// Config and layer blobs that were downloaded (the others were already in the store).
    public var fetchedBlobs: [Digest]
    /// Bytes received (blobs, and the patches of blobs that came as deltas), counting resumed
    /// downloads once.
    public var fetchedBytes: Int64
    /// Blobs rebuilt from a delta against a blob the store had (included in `fetchedBlobs`).
    public var deltaBlobs: [Digest] = []
}
