import CArchive
import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// One entry to write into a tar stream.
struct TarHeader {
    enum Kind {
        case directory
        case file(size: Int64)
        case symlink(target: String)
        case hardLink(target: String)
    }

    var path: String
    var kind: Kind
    var mode: mode_t
    var uid: Int64 = 0
    var gid: Int64 = 0
    var mtime: Int64 = 0
}

/// Writes a deterministic tar stream (pax, no user or group names, only the times given),
/// optionally gzip-compressed without a timestamp or file name, to a file descriptor, and
/// hashes the tar stream (the diff id) and the bytes written (the blob digest) on the way:
///
/// ```
/// entries ──▶ libarchive pax ──▶ [sha256: tar] ──▶ chunker ──▶ libarchive "raw" + gzip ──▶ [sha256: blob] ──▶ fd
/// ```
///
/// The gzip stream is a sequence of gzip members (RFC 1952 §2.2; every gzip reader, Go's and
/// libarchive's included, reads them as one stream), one per content-defined chunk of the tar
/// stream (a gear rolling hash; 256 KiB on average, 64 KiB to 1 MiB). A chunk compresses to the
/// same bytes wherever it sits, so a change to one file changes only the members around it, and
/// the compressed layers of two versions of an image share everything else: what makes Pier's
/// delta updates small (as `gzip --rsyncable` does, but with boundaries no edit can shift).
final class TarWriter {
    private let fd: Int32
    private var tar: OpaquePointer?
    private var compressor: OpaquePointer?
    private(set) var tarHasher = DigestHasher()
    private(set) var outputHasher = DigestHasher()
    private var failure: String?
    private var closed = false

    private let gzip: Bool
    private var chunker = ContentDefinedChunker()

    /// Starts writing to `fd` (not closed by the writer).
    init(fd: Int32, gzip: Bool) throws {
        self.fd = fd
        self.gzip = gzip
        guard let tar = archive_write_new() else { throw ArchiveError("archive_write_new", message: "out of memory") }
        self.tar = tar
        let context = Unmanaged.passUnretained(self).toOpaque()
        archive_write_set_format_pax_restricted(tar)
        guard archive_write_open(tar, context, nil, { _, client, buffer, length in
            guard let client, let buffer else { return -1 }
            return Unmanaged<TarWriter>.fromOpaque(client).takeUnretainedValue().tarBytes(buffer, length)
        }, nil) == ARCHIVE_OK else {
            throw ArchiveError("opening the tar writer", archive: tar)
        }
    }

    /// A new gzip member: a libarchive "raw" writer with the gzip filter, writing to `emit`.
    private func openMember() throws -> OpaquePointer {
        guard let compressor = archive_write_new() else { throw ArchiveError("archive_write_new", message: "out of memory") }
        archive_write_set_format_raw(compressor)
        guard archive_write_add_filter_gzip(compressor) == ARCHIVE_OK else {
            archive_write_free(compressor)
            throw ArchiveError("gzip filter", message: "libarchive has no gzip filter")
        }
        // No timestamp in the gzip header, so equal input gives equal bytes.
        guard archive_write_set_filter_option(compressor, "gzip", "timestamp", nil) == ARCHIVE_OK else {
            defer { archive_write_free(compressor) }
            throw ArchiveError("gzip filter", archive: compressor)
        }
        archive_write_set_bytes_in_last_block(compressor, 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard archive_write_open(compressor, context, nil, { _, client, buffer, length in
            guard let client, let buffer else { return -1 }
            return Unmanaged<TarWriter>.fromOpaque(client).takeUnretainedValue().emit(buffer, length)
        }, nil) == ARCHIVE_OK else {
            defer { archive_write_free(compressor) }
            throw ArchiveError("opening the compressor", archive: compressor)
        }
        guard let entry = archive_entry_new() else { throw ArchiveError("archive_entry_new", message: "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, "data")
        archive_entry_set_filetype(entry, 0o100000)
        guard archive_write_header(compressor, entry) == ARCHIVE_OK else {
            defer { archive_write_free(compressor) }
            throw ArchiveError("starting the compressed stream", archive: compressor)
        }
        return compressor
    }

    /// Ends the current gzip member, if one is open.
    private func closeMember() throws {
        guard let compressor else { return }
        self.compressor = nil
        defer { archive_write_free(compressor) }
        guard archive_write_close(compressor) == ARCHIVE_OK else {
            throw ArchiveError("finishing a compressed member", archive: compressor)
        }
    }

    deinit {
        if let tar { archive_write_free(tar) }
        if let compressor { archive_write_free(compressor) }
    }

    /// Writes an entry; a file's content comes from `data` or from the file at `source`, which
    /// must still have the size given in the header.
    func add(_ header: TarHeader, data: Data? = nil, source: URL? = nil) throws {
        guard let tar, let entry = archive_entry_new() else { throw ArchiveError("archive_entry_new", message: "out of memory") }
        defer { archive_entry_free(entry) }
        archive_entry_set_pathname(entry, header.path)
        archive_entry_set_perm(entry, header.mode & 0o7777)
        archive_entry_set_uid(entry, header.uid)
        archive_entry_set_gid(entry, header.gid)
        archive_entry_set_mtime(entry, time_t(header.mtime), 0)
        var size: Int64 = 0
        switch header.kind {
        case .directory:
            archive_entry_set_filetype(entry, 0o040000)
        case .file(let s):
            size = s
            archive_entry_set_filetype(entry, 0o100000)
            archive_entry_set_size(entry, s)
        case .symlink(let target):
            archive_entry_set_filetype(entry, 0o120000)
            archive_entry_set_symlink(entry, target)
        case .hardLink(let target):
            archive_entry_set_filetype(entry, 0o100000)
            archive_entry_set_hardlink(entry, target)
            archive_entry_set_size(entry, 0)
        }
        guard archive_write_header(tar, entry) == ARCHIVE_OK else { throw error("writing the header of \(header.path)") }
        if size == 0 { return }
        if let data {
            guard Int64(data.count) == size else {
                throw ArchiveError("writing \(header.path)", message: "has \(data.count) bytes, not \(size)")
            }
            try data.withUnsafeBytes { raw in try writeData(raw, path: header.path) }
        } else if let source {
            try copy(from: source, size: size, path: header.path)
        } else {
            throw ArchiveError("writing \(header.path)", message: "no content given")
        }
    }

    /// Ends the archive and flushes everything to the descriptor.
    func finish() throws -> (diffID: Digest, tarSize: Int64, digest: Digest, size: Int64) {
        guard !closed else { throw ArchiveError("finishing the archive", message: "already finished") }
        closed = true
        if let tar, archive_write_close(tar) != ARCHIVE_OK { throw error("finishing the tar stream") }
        if let failure { throw ArchiveError("writing", message: failure) }
        if gzip {
            // An empty tar stream still gets one (empty) member: a valid gzip file.
            if compressor == nil { compressor = try openMember() }
            try closeMember()
        }
        if let failure { throw ArchiveError("writing", message: failure) }
        return (tarHasher.finalize(), tarHasher.count, outputHasher.finalize(), outputHasher.count)
    }

    private func copy(from source: URL, size: Int64, path: String) throws {
        let input = open(source.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw ArchiveError("reading \(source.path)", message: String(cString: strerror(errno))) }
        defer { close(input) }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var remaining = size
        while remaining > 0 {
            let n = read(input, buffer.baseAddress, Int(min(Int64(chunk), remaining)))
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveError("reading \(source.path)", message: String(cString: strerror(errno)))
            }
            if n == 0 { throw ArchiveError("reading \(source.path)", message: "the file shrank while it was being archived") }
            try writeData(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), path: path)
            remaining -= Int64(n)
        }
    }

    private func writeData(_ raw: UnsafeRawBufferPointer, path: String) throws {
        guard let tar, let base = raw.baseAddress else { return }
        var offset = 0
        while offset < raw.count {
            let n = archive_write_data(tar, base + offset, raw.count - offset)
            guard n > 0 else { throw error("writing the content of \(path)") }
            offset += n
        }
    }

    private func error(_ operation: String) -> ArchiveError {
        if let failure { return ArchiveError(operation, message: failure) }
        return ArchiveError(operation, archive: tar)
    }

    /// Write callback of the tar writer: the uncompressed stream, cut into chunks, each
    /// compressed as its own gzip member.
    private func tarBytes(_ buffer: UnsafeRawPointer, _ length: Int) -> la_ssize_t {
        let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
        tarHasher.update(bytes)
        guard gzip else { return emit(buffer, length) }
        do {
            var start = 0
            while start < length {
                let cut = chunker.nextBoundary(in: UnsafeRawBufferPointer(rebasing: bytes[start...]))
                let end = cut.map { start + $0 } ?? length
                if compressor == nil { compressor = try openMember() }
                try compress(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                if cut != nil { try closeMember() }
                start = end
            }
        } catch {
            if failure == nil { failure = "\(error)" }
            return -1
        }
        return length
    }

    private func compress(_ bytes: UnsafeRawBufferPointer) throws {
        guard let compressor, let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let n = archive_write_data(compressor, base + offset, bytes.count - offset)
            guard n > 0 else { throw ArchiveError("compressing", archive: compressor) }
            offset += n
        }
    }

    /// The bytes that reach the descriptor.
    private func emit(_ buffer: UnsafeRawPointer, _ length: Int) -> la_ssize_t {
        do {
            try AtomicFile.writeAll(fd: fd, UnsafeRawBufferPointer(start: buffer, count: length), path: "output")
        } catch {
            failure = "\(error)"
            return -1
        }
        outputHasher.update(UnsafeRawBufferPointer(start: buffer, count: length))
        return length
    }
}

/// Content-defined chunk boundaries of a byte stream, with a gear rolling hash (as FastCDC):
/// a boundary falls where the hash of the last bytes matches a mask, so it moves with the
/// content and not with offsets. The gear table comes from a fixed seed: the same stream is
/// always cut in the same places, on every machine (builds stay reproducible).
struct ContentDefinedChunker {
    static let minimum = 64 << 10
    static let maximum = 1 << 20
    /// 18 bits: a boundary every 256 KiB on average past the minimum.
    static let mask: UInt64 = (1 << 18) - 1

    static let gear: [UInt64] = {
        var state: UInt64 = 0x5069_6572_4344_4321  // SplitMix64, fixed seed
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()

    private var hash: UInt64 = 0
    private var length = 0

    /// The offset just past the next boundary in `bytes`, or nil when the chunk goes on.
    mutating func nextBoundary(in bytes: UnsafeRawBufferPointer) -> Int? {
        let gear = Self.gear
        var i = 0
        // Below the minimum no boundary can fall: skip the hashing of those bytes.
        if length < Self.minimum {
            let skip = min(bytes.count, Self.minimum - length)
            length += skip
            i = skip
            hash = 0
        }
        while i < bytes.count {
            hash = (hash << 1) &+ gear[Int(bytes[i])]
            length += 1
            i += 1
            if hash & Self.mask == 0 || length >= Self.maximum {
                hash = 0
                length = 0
                return i
            }
        }
        return nil
    }
}
