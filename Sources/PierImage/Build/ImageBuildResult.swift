import Foundation
import PierOCI

/// What a build produced.
public struct ImageBuildResult: Sendable, Hashable {
    /// The OCI image layout holding the new blobs and `index.json`.
    public var layout: URL
    public var manifest: Descriptor
    public var config: Descriptor
    /// The new layers only, bottom-most first.
    public var newLayers: [Descriptor]
    /// All diff ids of the image, bottom-most first.
    public var diffIDs: [Digest]
    public var reference: ImageReference?
}
