import PierOCI

/// What `remove` did.
public struct ImageRemoval: Sendable, Hashable {
    public var untagged: [ImageReference]
    public var pruned: ImagePruneResult
}
