import Foundation

/// A content-addressed blob store (OCI image-spec v1.1 `image-layout.md` blobs): every blob is
/// stored under its sha256 digest, and only after its bytes were verified against it.
public protocol ContentStore: Sendable {
    /// Whether the blob is present.
    func has(_ digest: Digest) async -> Bool
    /// The size of a present blob; throws `ContentStoreError.notFound` otherwise.
    func size(of digest: Digest) async throws -> Int64
    /// The file holding a present blob; throws `ContentStoreError.notFound` otherwise.
    func path(for digest: Digest) async throws -> URL
    /// The bytes of a blob, refused when it is larger than `limit`.
    func read(_ digest: Digest, limit: Int64) async throws -> Data
    /// Removes a blob; returns the bytes freed (0 when it was absent).
    @discardableResult func delete(_ digest: Digest) async throws -> Int64
    /// Every stored digest.
    func allDigests() async throws -> [Digest]

    /// Stores `data`, verified against `digest` and `size` when given.
    @discardableResult
    func ingest(data: Data, expecting digest: Digest?, size: Int64?) async throws -> IngestResult
    /// Copies a file into the store, verified against `digest` and `size` when given.
    @discardableResult
    func ingest(file: URL, expecting digest: Digest?, size: Int64?) async throws -> IngestResult
    /// Stores a stream of byte chunks, hashing while writing, verified against `digest` and `size` when given.
    @discardableResult
    func ingest<S: AsyncSequence & Sendable>(stream: S, expecting digest: Digest?, size: Int64?) async throws -> IngestResult
        where S.Element == [UInt8]
}

extension ContentStore {
    /// Stores `data`, which must match `descriptor`.
    @discardableResult
    public func ingest(data: Data, expecting descriptor: Descriptor) async throws -> IngestResult {
        try await ingest(data: data, expecting: descriptor.digest, size: descriptor.size)
    }

    /// Reads a JSON document (manifest, index, config): at most 4 MiB.
    public func readDocument(_ digest: Digest) async throws -> Data {
        try await read(digest, limit: ContentStoreLimits.maxDocumentBytes)
    }
}

/// Size limits for blobs read into memory.
public enum ContentStoreLimits {
    /// Manifests, indexes and configs larger than this are refused (registries use 4 MiB).
    public static let maxDocumentBytes: Int64 = 4 << 20
}

/// The outcome of an ingest.
public struct IngestResult: Sendable, Hashable {
    public var digest: Digest
    public var size: Int64
    /// False when the blob was already present (the new copy was discarded).
    public var isNew: Bool

    public init(digest: Digest, size: Int64, isNew: Bool) {
        self.digest = digest; self.size = size; self.isNew = isNew
    }
}
