import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The content store on local disk, as an OCI image layout keeps blobs:
/// `<root>/blobs/sha256/<hex>`, with writes staged in `<root>/ingest/`.
///
/// Nothing unverified is ever visible under `blobs/`: a blob is written to `ingest/`, hashed
/// while writing, checked, fsynced and only then linked into place. Opening the store removes
/// ingest files left behind by killed processes.
public actor LocalContentStore: ContentStore {
    public nonisolated let root: URL
    /// `<root>/blobs/sha256`.
    public nonisolated let blobsDirectory: URL
    /// `<root>/ingest`.
    public nonisolated let ingestDirectory: URL

    /// Opens (creating if needed) the store at `root` and removes stale ingest files.
    public init(root: URL) throws {
        self.root = root
        self.blobsDirectory = root.appendingPathComponent("blobs/sha256", isDirectory: true)
        self.ingestDirectory = root.appendingPathComponent("ingest", isDirectory: true)
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: blobsDirectory, withIntermediateDirectories: true)
            try fm.createDirectory(at: ingestDirectory, withIntermediateDirectories: true)
        } catch {
            throw ContentStoreError.io("cannot create the store at \(root.path): \(error.localizedDescription)")
        }
        Self.removeStaleIngests(in: ingestDirectory)
    }

    /// Removes ingest files whose writer process is gone. Files of live processes (another store
    /// instance writing right now) are left alone.
    static func removeStaleIngests(in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        let me = getpid()
        for name in names {
            if name.hasPrefix(partialPrefix) {
                // A blob download cut off, kept so that the next pull resumes it; a week is enough.
                var st = stat()
                let path = directory.appendingPathComponent(name).path
                if lstat(path, &st) == 0, time(nil) - st.st_mtim.tv_sec > partialLifetime { unlink(path) }
                continue
            }
            if let dash = name.firstIndex(of: "-"), let pid = Int32(name[..<dash]), pid > 0 {
                if pid == me { continue }
                if kill(pid, 0) == 0 || errno == EPERM { continue }
            }
            unlink(directory.appendingPathComponent(name).path)
        }
    }

    /// The file a blob lives in (whether or not it is present).
    public nonisolated func blobURL(for digest: Digest) -> URL {
        blobsDirectory.appendingPathComponent(digest.encoded)
    }

    /// Starts writing a blob; see `ContentWriter`.
    public nonisolated func makeWriter() throws -> ContentWriter {
        try ContentWriter(ingestDirectory: ingestDirectory, blobsDirectory: blobsDirectory)
    }

    static let partialPrefix = "partial-"
    /// Seconds a partial blob nobody resumed is kept (a week).
    static let partialLifetime = 7 * 24 * 3600

    /// Starts or resumes writing the blob `digest` of `size` bytes from what an earlier writer
    /// left in `ingest/partial-<hex>` (see `ContentWriter`); a plain writer when another writer
    /// of the same blob is at work.
    public nonisolated func makeWriter(resuming digest: Digest, size: Int64) throws -> ContentWriter {
        let path = ingestDirectory.appendingPathComponent(Self.partialPrefix + digest.encoded).path
        if let writer = try ContentWriter(partial: path, size: size, blobsDirectory: blobsDirectory) { return writer }
        return try makeWriter()
    }

    public nonisolated func has(_ digest: Digest) async -> Bool {
        var st = stat()
        return lstat(blobURL(for: digest).path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    public nonisolated func size(of digest: Digest) async throws -> Int64 {
        var st = stat()
        guard lstat(blobURL(for: digest).path, &st) == 0 else { throw ContentStoreError.notFound(digest) }
        return Int64(st.st_size)
    }

    public nonisolated func path(for digest: Digest) async throws -> URL {
        let url = blobURL(for: digest)
        guard await has(digest) else { throw ContentStoreError.notFound(digest) }
        return url
    }

    public nonisolated func read(_ digest: Digest, limit: Int64) async throws -> Data {
        let size = try await size(of: digest)
        guard size <= limit else { throw ContentStoreError.tooLarge(digest, size: size, limit: limit) }
        do {
            return try Data(contentsOf: blobURL(for: digest))
        } catch {
            throw ContentStoreError.io("cannot read blob \(digest): \(error.localizedDescription)")
        }
    }

    @discardableResult
    public func delete(_ digest: Digest) async throws -> Int64 {
        let path = blobURL(for: digest).path
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw ContentStoreError.io(FileSystemError.errno(errno, "unlink", path).description)
        }
        return Int64(st.st_size)
    }

    public nonisolated func allDigests() async throws -> [Digest] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: blobsDirectory.path) } catch {
            throw ContentStoreError.io("cannot list \(blobsDirectory.path): \(error.localizedDescription)")
        }
        return names.compactMap { try? Digest(sha256Hex: $0) }.sorted()
    }

    /// Total bytes of all blobs.
    public nonisolated func totalBytes() async throws -> Int64 {
        var total: Int64 = 0
        for digest in try await allDigests() { total += (try? await size(of: digest)) ?? 0 }
        return total
    }

    /// Re-hashes a stored blob; throws `digestMismatch` when it no longer matches its name.
    public nonisolated func verify(_ digest: Digest) async throws {
        let url = try await path(for: digest)
        let actual = try Self.hashFile(url)
        guard actual.digest == digest else { throw ContentStoreError.digestMismatch(expected: digest, actual: actual.digest) }
    }

    @discardableResult
    public nonisolated func ingest(data: Data, expecting digest: Digest?, size: Int64?) async throws -> IngestResult {
        if let digest, let size, await has(digest), (try? await self.size(of: digest)) == size {
            // Still verify what the caller handed in, so a wrong claim is reported.
            let actual = Digest.sha256(of: data)
            guard actual == digest else { throw ContentStoreError.digestMismatch(expected: digest, actual: actual) }
            return IngestResult(digest: digest, size: size, isNew: false)
        }
        let writer = try makeWriter()
        try writer.write(data)
        return try writer.commit(expecting: digest, size: size)
    }

    @discardableResult
    public nonisolated func ingest(file: URL, expecting digest: Digest?, size: Int64?) async throws -> IngestResult {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ContentStoreError.io(FileSystemError.errno(errno, "open", file.path).description) }
        defer { close(fd) }
        let writer = try makeWriter()
        try Self.readChunks(fd: fd, path: file.path) { bytes in
            try writer.write(bytes)
            if let size, writer.count > size {
                throw ContentStoreError.longerThanDeclared(digest, size: size)
            }
        }
        return try writer.commit(expecting: digest, size: size)
    }

    @discardableResult
    public nonisolated func ingest<S: AsyncSequence & Sendable>(
        stream: S, expecting digest: Digest?, size: Int64?
    ) async throws -> IngestResult where S.Element == [UInt8] {
        let writer = try makeWriter()
        for try await chunk in stream {
            try chunk.withUnsafeBytes { try writer.write($0) }
            if let size, writer.count > size {
                // Stop early: a stream longer than declared is refused without reading it all.
                throw ContentStoreError.longerThanDeclared(digest, size: size)
            }
        }
        return try writer.commit(expecting: digest, size: size)
    }

    /// The digest and size of a file's content.
    public static func hashFile(_ url: URL) throws -> (digest: Digest, size: Int64) {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ContentStoreError.io(FileSystemError.errno(errno, "open", url.path).description) }
        defer { close(fd) }
        var hasher = DigestHasher()
        try readChunks(fd: fd, path: url.path) { hasher.update($0) }
        return (hasher.finalize(), hasher.count)
    }

    /// Reads `fd` to its end in 1 MiB chunks, handing each to `body`.
    private static func readChunks(fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw ContentStoreError.io(FileSystemError.errno(errno, "read", path).description)
            }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
