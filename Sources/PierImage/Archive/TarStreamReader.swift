import CArchive
import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Reads a tar stream that may be gzip- or zstd-compressed (detected from the content), while
/// hashing both the bytes of the file (the blob digest) and the decompressed tar stream
/// (the diff id):
///
/// ```
/// file ──read──▶ [sha256: blob] ──▶ libarchive "raw" + gzip/zstd ──▶ [sha256: tar, byte limit] ──▶ libarchive tar
/// ```
/// One pass over the data verifies both digests while entries are being extracted.
final class TarStreamReader {
    /// Why reading stopped, when it was not libarchive's own error.
    enum Stop: Error {
        /// A bound of `Limits` was crossed: which one (`what`), its value and what was reached.
        case limit(what: String, limit: Int64, value: Int64)
        case io(String)
    }

    /// Bounds on the decompressed stream: its size, and how much larger than the compressed
    /// bytes it may grow once past a floor (a gzip of zeros expands about 1000:1, a zstd one
    /// far more; real layers stay below 20:1).
    struct Limits {
        /// Most bytes of the decompressed stream.
        var maxTarBytes: Int64
        /// Most decompressed bytes per compressed byte, checked once `ratioFloor` bytes came out; 0 checks nothing.
        var maxRatio: Int64 = 0
        var ratioFloor: Int64 = 64 << 20
    }

    private let fd: Int32
    private let path: String
    private let fileBuffer: UnsafeMutableRawPointer
    private static let fileBufferSize = 1 << 20
    private var outer: OpaquePointer?
    private var inner: OpaquePointer?
    private var outerDone = false
    private var fileDone = false

    private(set) var blobHasher = DigestHasher()
    private(set) var tarHasher = DigestHasher()
    let limits: Limits
    /// Set by the read callbacks when they stopped reading.
    private(set) var stop: Stop?

    /// Opens `file` for reading; `limits` bound the decompressed stream.
    init(file: URL, limits: Limits) throws {
        self.path = file.path
        self.limits = limits
        fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Stop.io("cannot open \(file.path): \(String(cString: strerror(errno)))") }
        fileBuffer = UnsafeMutableRawPointer.allocate(byteCount: Self.fileBufferSize, alignment: 16)
    }

    deinit {
        if let inner { archive_read_free(inner) }
        if let outer { archive_read_free(outer) }
        fileBuffer.deallocate()
        close(fd)
    }

    /// Sets up both libarchive readers. Throws `ArchiveError` when the data is neither tar nor
    /// gzip/zstd-compressed tar.
    func start() throws {
        guard let outer = archive_read_new(), let inner = archive_read_new() else {
            throw ArchiveError("archive_read_new", message: "out of memory")
        }
        self.outer = outer
        self.inner = inner
        archive_read_support_filter_gzip(outer)
        archive_read_support_filter_zstd(outer)
        archive_read_support_format_raw(outer)
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard archive_read_open(outer, context, nil, { _, client, buffer in
            guard let client, let buffer else { return -1 }
            return Unmanaged<TarStreamReader>.fromOpaque(client).takeUnretainedValue().readFile(into: buffer)
        }, nil) == ARCHIVE_OK else {
            throw ArchiveError("opening the layer", archive: outer)
        }
        var rawEntry: OpaquePointer?
        let header = archive_read_next_header(outer, &rawEntry)
        guard header == ARCHIVE_OK || header == ARCHIVE_WARN else {
            if let stop { throw stop }
            throw ArchiveError("reading the layer", archive: outer)
        }

        archive_read_support_format_tar(inner)
        archive_read_support_format_gnutar(inner)
        guard archive_read_open(inner, context, nil, { _, client, buffer in
            guard let client, let buffer else { return -1 }
            return Unmanaged<TarStreamReader>.fromOpaque(client).takeUnretainedValue().readTar(into: buffer)
        }, nil) == ARCHIVE_OK else {
            if let stop { throw stop }
            throw ArchiveError("reading the tar stream", archive: inner)
        }
    }

    /// The next entry, or nil at the end of the archive.
    func nextEntry() throws -> OpaquePointer? {
        guard let inner else { return nil }
        var entry: OpaquePointer?
        let r = archive_read_next_header(inner, &entry)
        if r == ARCHIVE_EOF { return nil }
        if let stop { throw stop }
        guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let entry else {
            throw ArchiveError("reading the tar stream", archive: inner)
        }
        return entry
    }

    /// Calls `body` with each data block of the current entry and its offset in the file
    /// (sparse files have holes between blocks).
    func readData(_ body: (UnsafeRawBufferPointer, Int64) throws -> Void) throws {
        guard let inner else { return }
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let r = archive_read_data_block(inner, &block, &size, &offset)
            if r == ARCHIVE_EOF { return }
            if let stop { throw stop }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else { throw ArchiveError("reading entry data", archive: inner) }
            if size > 0, let block {
                try body(UnsafeRawBufferPointer(start: block, count: size), Int64(offset))
            }
        }
    }

    /// Reads what is left of the decompressed stream and of the file, so that both digests cover
    /// every byte; returns (blob digest, blob size, diff id, tar size).
    func finish() throws -> (blob: Digest, blobSize: Int64, diffID: Digest, tarSize: Int64) {
        var ignored: UnsafeRawPointer?
        while !outerDone {
            if readTar(into: &ignored) < 0 {
                if let stop { throw stop }
                throw ArchiveError("reading the layer", archive: outer)
            }
        }
        while !fileDone {
            if readFile(into: &ignored) < 0 {
                if let stop { throw stop }
                throw Stop.io("cannot read \(path)")
            }
        }
        return (blobHasher.finalize(), blobHasher.count, tarHasher.finalize(), tarHasher.count)
    }

    /// libarchive's read callback for the file: the compressed bytes, hashed as they pass.
    private func readFile(into buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> la_ssize_t {
        if fileDone { return 0 }
        while true {
            let n = Glibc.read(fd, fileBuffer, Self.fileBufferSize)
            if n < 0 {
                if errno == EINTR { continue }
                stop = .io("cannot read \(path): \(String(cString: strerror(errno)))")
                return -1
            }
            if n == 0 { fileDone = true; return 0 }
            blobHasher.update(UnsafeRawBufferPointer(start: fileBuffer, count: n))
            buffer.pointee = UnsafeRawPointer(fileBuffer)
            return n
        }
    }

    /// libarchive's read callback for the tar reader: decompressed bytes, hashed and counted.
    private func readTar(into buffer: UnsafeMutablePointer<UnsafeRawPointer?>) -> la_ssize_t {
        guard let outer, !outerDone else { return 0 }
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let r = archive_read_data_block(outer, &block, &size, &offset)
            if r == ARCHIVE_EOF { outerDone = true; return 0 }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN else {
                if stop == nil { stop = .io(ArchiveError("decompressing", archive: outer).message) }
                return -1
            }
            guard size > 0, let block else { continue }
            tarHasher.update(UnsafeRawBufferPointer(start: block, count: size))
            let produced = tarHasher.count
            if produced > limits.maxTarBytes {
                stop = .limit(what: "bytes", limit: limits.maxTarBytes, value: produced)
                return -1
            }
            // Compressed bytes read so far (libarchive reads ahead, which only errs towards leniency).
            let consumed = max(blobHasher.count, 1)
            if limits.maxRatio > 0, produced >= limits.ratioFloor, produced / consumed > limits.maxRatio {
                stop = .limit(what: "compression ratio", limit: limits.maxRatio, value: produced / consumed)
                return -1
            }
            buffer.pointee = block
            return size
        }
    }
}
