import PierOCI

/// One image an import brought in.
public struct ImportedImageRecord: Sendable, Hashable {
    /// Names from the archive (and the tag argument), possibly none.
    public var references: [ImageReference]
    /// The manifest for this host's platform.
    public var manifest: Descriptor
    /// The index the manifest was chosen from, when there was one.
    public var index: Digest?
    /// Platforms of the index that were not imported.
    public var skippedPlatforms: [String]
    public var config: Digest
    public var layers: [Descriptor]

    public init(references: [ImageReference], manifest: Descriptor, index: Digest?, skippedPlatforms: [String],
                config: Digest, layers: [Descriptor]) {
        self.references = references; self.manifest = manifest; self.index = index
        self.skippedPlatforms = skippedPlatforms; self.config = config; self.layers = layers
    }
}
