import PierOCI

/// What `prune` (or a removal) deleted.
public struct ImagePruneResult: Sendable, Hashable {
    public var removedBlobs: [Digest]
    public var removedLayers: [Digest]
    /// Bytes of blobs and unpacked layers freed.
    public var reclaimedBytes: Int64
}
