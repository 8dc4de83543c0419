import Foundation
import PierOCI

/// One image in `ImageService.list()`, as `pier image ls` shows it.
public struct ImageListing: Sendable, Hashable {
    public var references: [ImageReference]
    public var manifestDigest: Digest
    public var configDigest: Digest
    public var platform: Platform
    /// Compressed bytes of manifest, config and layers.
    public var size: Int64
    /// Bytes of layers that at least one other listed image also uses.
    public var sharedSize: Int64
    public var layers: [Descriptor]
    public var created: Date?
}
