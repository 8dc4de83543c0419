/// A pull-based source of byte chunks, read on demand so that uploads never hold a whole
/// archive in memory.
public protocol ByteChunkSource {
    /// The next chunk, or nil at the end.
    mutating func nextChunk() throws -> [UInt8]?
}
