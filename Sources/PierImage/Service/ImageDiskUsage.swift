import PierOCI

/// Disk use of the image store: what is stored once, what is shared.
public struct ImageDiskUsage: Sendable, Hashable {
    public var images: [ImageListing]
    /// Bytes of distinct blobs in the content store.
    public var contentStoreBytes: Int64
    /// Bytes of unpacked layers (each diff id once).
    public var unpackedLayerBytes: Int64
    /// What the images would take if nothing were shared (sum of their sizes).
    public var unsharedTotalBytes: Int64
}
