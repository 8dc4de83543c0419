import NIOCore

/// A request body read from a ``ByteChunkSource`` as the connection asks for it.
struct ChunkUpload<Source: ByteChunkSource>: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let makeSource: @Sendable () throws -> Source

    struct AsyncIterator: AsyncIteratorProtocol {
        var source: Source?
        let makeSource: @Sendable () throws -> Source

        mutating func next() async throws -> ByteBuffer? {
            if source == nil { source = try makeSource() }
            guard var current = source, let chunk = try current.nextChunk() else { return nil }
            source = current
            return ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: nil, makeSource: makeSource) }
}
