import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes one blob into a `LocalContentStore`: bytes go to `ingest/<random>` while being
/// hashed; `commit` verifies, fsyncs and moves the file under `blobs/` (never replacing a blob).
/// A writer dropped without `commit` removes its file. Use it from one task at a time.
public final class ContentWriter {
    private let blobsDirectory: URL
    private let tempPath: String
    private var fd: Int32
    private var hasher = DigestHasher()
    private var finished = false

    init(ingestDirectory: URL, blobsDirectory: URL) throws {
        self.blobsDirectory = blobsDirectory
        self.tempPath = ingestDirectory.appendingPathComponent("\(getpid())-\(AtomicFile.randomSuffix())").path
        self.fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ContentStoreError.io(FileSystemError.errno(errno, "create", tempPath).description) }
    }

    deinit { discard() }

    /// Bytes written so far.
    public var count: Int64 { hasher.count }

    /// Appends bytes.
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard !finished else { throw ContentStoreError.io("write after commit to \(tempPath)") }
        do { try AtomicFile.writeAll(fd: fd, buffer, path: tempPath) } catch {
            throw ContentStoreError.io("\(error)")
        }
        hasher.update(buffer)
    }

    /// Appends bytes.
    public func write<D: DataProtocol>(_ data: D) throws {
        for region in data.regions {
            try region.withUnsafeBytes { try write($0) }
        }
    }

    /// Checks the bytes against the expected digest and size, then makes the blob visible.
    /// On a mismatch the file is removed and nothing is stored.
    public func commit(expecting digest: Digest?, size: Int64?) throws -> IngestResult {
        guard !finished else { throw ContentStoreError.io("commit of a finished write (\(tempPath))") }
        let actual = hasher.finalize()
        let actualSize = hasher.count
        guard digest == nil || digest == actual else {
            discard()
            throw ContentStoreError.digestMismatch(expected: digest ?? actual, actual: actual)
        }
        if let size, size != actualSize {
            discard()
            throw ContentStoreError.sizeMismatch(actual, expected: size, actual: actualSize)
        }
        guard fsync(fd) == 0 else {
            let code = errno
            discard()
            throw ContentStoreError.io(FileSystemError.errno(code, "fsync", tempPath).description)
        }
        close(fd)
        fd = -1
        finished = true
        let target = blobsDirectory.appendingPathComponent(actual.encoded).path
        // link() never replaces: exactly one of several concurrent writers of a blob creates it.
        var isNew = true
        if link(tempPath, target) != 0 {
            let code = errno
            unlink(tempPath)
            guard code == EEXIST else {
                throw ContentStoreError.io(FileSystemError.errno(code, "link", target).description)
            }
            isNew = false
        } else {
            unlink(tempPath)
            do { try AtomicFile.syncDirectory(blobsDirectory) } catch {
                throw ContentStoreError.io("\(error)")
            }
        }
        return IngestResult(digest: actual, size: actualSize, isNew: isNew)
    }

    /// Abandons the write and removes its file.
    public func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        if !finished { unlink(tempPath); finished = true }
    }
}
