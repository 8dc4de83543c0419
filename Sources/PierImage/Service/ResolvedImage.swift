import Foundation
import PierOCI

/// An image found by reference or digest: its manifest and config, parsed.
public struct ResolvedImage: Sendable, Hashable {
    /// The reference it was found by, when it was found by name (or the first name pointing at it).
    public var reference: ImageReference?
    public var manifestDigest: Digest
    public var manifest: ImageManifest
    public var configDigest: Digest
    public var config: ImageConfig

    /// The diff ids, bottom-most first.
    public var diffIDs: [Digest] { config.rootfs.diffIDs }
}
