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

/// How far the download of one blob is.
public struct BlobProgress: Sendable, Hashable {
    public var digest: Digest
    /// Bytes received so far (of the patch, for a delta).
    public var received: Int64
    /// The blob's size (the patch's is not known in advance).
    public var total: Int64
    /// The blob comes as a delta patch.
    public var delta: Bool
    /// The blob is verified and stored.
    public var done: Bool

    public init(digest: Digest, received: Int64, total: Int64, delta: Bool, done: Bool) {
        self.digest = digest; self.received = received; self.total = total; self.delta = delta; self.done = done
    }
}
