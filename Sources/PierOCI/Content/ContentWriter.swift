import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes one blob into a `LocalContentStore`: bytes go to `ingest/<random>` while being
/// hashed; `commit` verifies, fsyncs and moves the file under `blobs/` (never replacing a blob).
/// A writer dropped without `commit` removes its file. Use it from one task at a time.
///
/// A resumable writer (`LocalContentStore.makeWriter(resuming:size:)`) writes to
/// `ingest/partial-<hex>` instead, holding an exclusive lock on it, and starts from the bytes a
/// writer before it left there (a download cut off, an agent killed mid-pull); `discard` keeps
/// those bytes for the next writer of the blob. They are trusted no more than new bytes: the
/// digest of the whole is checked at `commit`, and a mismatch removes the file.
public final class ContentWriter {
    private let blobsDirectory: URL
    private let tempPath: String
    private var fd: Int32
    private var hasher = DigestHasher()
    private var finished = false
    /// Whether `discard` leaves the file for a later writer (a resumable writer's partial blob).
    private let keepsPartial: Bool
    /// The bytes the file held when this writer opened it.
    public let resumedFrom: Int64

    init(ingestDirectory: URL, blobsDirectory: URL) throws {
        self.blobsDirectory = blobsDirectory
        self.tempPath = ingestDirectory.appendingPathComponent("\(getpid())-\(AtomicFile.randomSuffix())").path
        self.keepsPartial = false
        self.resumedFrom = 0
        self.fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ContentStoreError.io(FileSystemError.errno(errno, "create", tempPath).description) }
    }

    /// Opens the partial file at `path` under an exclusive lock and hashes what it holds; nil
    /// when another writer holds the lock. More bytes than `size` mean a stale file: it starts over.
    init?(partial path: String, size: Int64, blobsDirectory: URL) throws {
        self.blobsDirectory = blobsDirectory
        self.tempPath = path
        self.keepsPartial = true
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ContentStoreError.io(FileSystemError.errno(errno, "open", path).description) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
        var hasher = DigestHasher()
        do {
            var st = stat()
            guard fstat(fd, &st) == 0 else { throw FileSystemError.errno(errno, "stat", path) }
            if Int64(st.st_size) > size {
                guard ftruncate(fd, 0) == 0 else { throw FileSystemError.errno(errno, "truncate", path) }
            } else if st.st_size > 0 {
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0, errno == EINTR { continue }
                    guard n >= 0 else { throw FileSystemError.errno(errno, "read", path) }
                    if n == 0 { break }
                    buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
                }
            }
            guard lseek(fd, off_t(hasher.count), SEEK_SET) >= 0 else { throw FileSystemError.errno(errno, "seek", path) }
        } catch {
            close(fd)
            unlink(path)
            throw ContentStoreError.io("\(error)")
        }
        self.hasher = hasher
        self.resumedFrom = hasher.count
    }

    deinit { discard() }

    /// Bytes written so far (with those a resumable writer started from).
    public var count: Int64 { hasher.count }

    /// Drops every byte written so far (and a partial file's earlier bytes) and starts again.
    public func restart() throws {
        guard !finished else { throw ContentStoreError.io("restart of a finished write (\(tempPath))") }
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw ContentStoreError.io(FileSystemError.errno(errno, "truncate", tempPath).description)
        }
        hasher = DigestHasher()
    }

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
            abandon()
            throw ContentStoreError.digestMismatch(expected: digest ?? actual, actual: actual)
        }
        if let size, size != actualSize {
            abandon()
            throw ContentStoreError.sizeMismatch(actual, expected: size, actual: actualSize)
        }
        guard fsync(fd) == 0 else {
            let code = errno
            abandon()
            throw ContentStoreError.io(FileSystemError.errno(code, "fsync", tempPath).description)
        }
        finished = true
        let target = blobsDirectory.appendingPathComponent(actual.encoded).path
        // link() never replaces: exactly one of several concurrent writers of a blob creates it.
        // The file is unlinked before it is closed: a partial file's lock lasts until it is gone.
        var isNew = true
        defer { close(fd); fd = -1 }
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

    /// Abandons the write and removes its file; a resumable writer keeps its bytes for the next.
    public func discard() {
        if keepsPartial, !finished {
            if fd >= 0 { close(fd); fd = -1 }  // closing releases the lock
            finished = true
            return
        }
        abandon()
    }

    /// Abandons the write and removes its file, partial or not (the bytes are wrong).
    public func abandon() {
        if !finished { unlink(tempPath); finished = true }  // unlinked before the lock goes
        if fd >= 0 { close(fd); fd = -1 }
    }
}
