import CArchive
import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Writes tar entries into a `DirectoryHandle`, one at a time, refusing hostile ones and
/// converting OCI whiteouts to overlayfs's format:
///
/// | in the layer (OCI)   | on disk (overlayfs)                         |
/// |----------------------|---------------------------------------------|
/// | `dir/.wh.NAME`       | `dir/NAME`, a 0/0 character device          |
/// | `dir/.wh..wh..opq`   | xattr `trusted.overlay.opaque=y` on `dir`   |
struct EntryExtractor {
    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)
    static let opaqueMarker: [UInt8] = Array(".wh..wh..opq".utf8)
    static let metaPrefix: [UInt8] = Array(".wh..wh.".utf8)

    /// Owner, permissions, times and extended attributes of an entry.
    struct Metadata {
        var mode: mode_t
        var uid: uid_t
        var gid: gid_t
        var atime: timespec?
        var mtime: timespec?
        var xattrs: [(name: String, value: [UInt8])]
    }

    let layer: Digest
    let tree: DirectoryHandle
    let reader: TarStreamReader
    let configuration: LayerUnpacker.Configuration
    /// File content may add up to this many bytes (`Configuration.byteLimit`).
    let maxBytes: Int64
    private(set) var entries = 0
    private var declaredBytes: Int64 = 0
    /// Directory metadata is applied last: creating children would change their mtimes.
    private var directories: [(EntryPath, Metadata)] = []

    init(layer: Digest, tree: DirectoryHandle, reader: TarStreamReader, configuration: LayerUnpacker.Configuration, maxBytes: Int64) {
        self.layer = layer; self.tree = tree; self.reader = reader; self.configuration = configuration; self.maxBytes = maxBytes
    }

    /// Writes one entry.
    mutating func apply(_ entry: OpaquePointer) throws(UnpackError) {
        entries += 1
        guard entries <= configuration.maxEntries else {
            throw .limitExceeded(layer: layer, what: "entries", limit: Int64(configuration.maxEntries), value: Int64(entries))
        }
        guard let rawName = Self.bytes(archive_entry_pathname(entry)) ?? Self.bytes(archive_entry_pathname_utf8(entry)),
              !rawName.isEmpty else {
            throw .refused(layer: layer, entry: "", reason: .invalidName)
        }
        guard rawName.count <= configuration.maxNameBytes else {
            throw .limitExceeded(
                layer: layer, what: "bytes in one name (entry \"\(String(decoding: rawName.prefix(64), as: UTF8.self))…\")",
                limit: Int64(configuration.maxNameBytes), value: Int64(rawName.count))
        }
        let shown = String(decoding: rawName, as: UTF8.self)
        for target in [archive_entry_symlink(entry), archive_entry_hardlink(entry)] {
            if let target, strlen(target) > configuration.maxNameBytes {
                throw .limitExceeded(
                    layer: layer, what: "bytes in one link target (entry \"\(shown)\")", limit: Int64(configuration.maxNameBytes),
                    value: Int64(strlen(target)))
            }
        }
        let path: EntryPath
        do { path = try EntryPath.parse(rawName) } catch { throw .refused(layer: layer, entry: shown, reason: error) }
        let meta = Self.metadata(of: entry)
        let xattrBytes = meta.xattrs.reduce(0) { $0 + $1.name.utf8.count + $1.value.count }
        guard xattrBytes <= configuration.maxXattrBytes else {
            throw .limitExceeded(
                layer: layer, what: "bytes of extended attributes on one entry (\"\(shown)\")", limit: Int64(configuration.maxXattrBytes),
                value: Int64(xattrBytes))
        }

        let type = archive_entry_filetype(entry)
        if path.isRoot {
            // "./": the layer root itself; only its metadata matters.
            guard type == S_IFDIR else { throw .refused(layer: layer, entry: shown, reason: .invalidName) }
            directories.append((path, meta))
            return
        }
        // A whiteout is a marker whatever the entry's type (some tools write them as hard links).
        if path.name.starts(with: Self.whiteoutPrefix) {
            try whiteout(path, shown: shown)
            return
        }
        if let linkTarget = Self.bytes(archive_entry_hardlink(entry)) {
            try hardLink(path, to: linkTarget, shown: shown)
            return
        }
        switch type {
        case S_IFDIR: try directory(path, meta, shown: shown)
        case S_IFREG: try regularFile(path, meta, size: archive_entry_size(entry), shown: shown)
        case S_IFLNK:
            guard let target = Self.bytes(archive_entry_symlink(entry)) ?? Self.bytes(archive_entry_symlink_utf8(entry)),
                  !target.isEmpty else {
                throw .refused(layer: layer, entry: shown, reason: .invalidName)
            }
            try symlink(path, to: target, meta, shown: shown)
        case S_IFIFO: try fifo(path, meta, shown: shown)
        case S_IFCHR, S_IFBLK: throw .refused(layer: layer, entry: shown, reason: .deviceNode)
        case S_IFSOCK: throw .refused(layer: layer, entry: shown, reason: .unsupportedType("socket"))
        default: throw .refused(layer: layer, entry: shown, reason: .unsupportedType("file of unknown type \(String(type, radix: 8))"))
        }
    }

    /// Applies the metadata of every directory entry, once all content is written.
    mutating func finishDirectories() throws(UnpackError) {
        for (path, meta) in directories {
            let fd: Int32
            do { fd = try tree.directory(path, create: false) } catch {
                // Replaced by a later entry of the same layer: nothing to apply.
                continue
            }
            try applyMetadata(fd: fd, meta, shown: path.isRoot ? "." : path.display)
        }
        directories.removeAll()
    }

    // MARK: Entry kinds

    private mutating func directory(_ path: EntryPath, _ meta: Metadata, shown: String) throws(UnpackError) {
        let parent = try parentDirectory(of: path, shown: shown)
        let existing = tree.fileType(in: parent, path.name)
        if existing != S_IFDIR {
            try removeExisting(in: parent, path.name, shown: shown)
            // Its mode is applied when the layer is done (`applyMetadata`), whatever the umask.
            if path.name.withCString({ mkdirat(parent, $0, 0o755) }) != 0 {
                throw .io(layer: layer, entry: shown, message: "mkdir: \(String(cString: strerror(errno)))")
            }
        }
        directories.append((path, meta))
    }

    private mutating func regularFile(_ path: EntryPath, _ meta: Metadata, size: Int64, shown: String) throws(UnpackError) {
        // The apparent size counts: a sparse entry of a terabyte is refused like a terabyte of data.
        let (sum, overflow) = declaredBytes.addingReportingOverflow(max(size, 0))
        declaredBytes = overflow ? .max : sum
        guard declaredBytes <= maxBytes else {
            throw .limitExceeded(layer: layer, what: "bytes", limit: maxBytes, value: declaredBytes)
        }
        let parent = try parentDirectory(of: path, shown: shown)
        try removeExisting(in: parent, path.name, shown: shown)
        let fd = path.name.withCString { openat(parent, $0, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw .io(layer: layer, entry: shown, message: "create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var end: Int64 = 0
        do {
            try reader.readData { block, offset in
                // Data past the declared size (a forged sparse map) would escape the byte limit.
                guard offset >= 0, offset <= size, Int64(block.count) <= size - offset else {
                    throw UnpackError.corrupt(
                        layer: layer, message: "entry \"\(shown)\" has data at offset \(offset) beyond its size of \(size) bytes")
                }
                var written = 0
                while written < block.count {
                    let n = pwrite(fd, block.baseAddress! + written, block.count - written, off_t(offset) + off_t(written))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw UnpackError.io(layer: layer, entry: shown, message: "write: \(String(cString: strerror(errno)))")
                    }
                    written += n
                }
                end = max(end, offset + Int64(block.count))
            }
        } catch let error as UnpackError {
            throw error
        } catch let stop as TarStreamReader.Stop {
            switch stop {
            case .limit(let what, let limit, let value): throw .limitExceeded(layer: layer, what: what, limit: limit, value: value)
            case .io(let message): throw .corrupt(layer: layer, message: message)
            }
        } catch {
            throw .corrupt(layer: layer, message: "\(error)")
        }
        if size > end, ftruncate(fd, off_t(size)) != 0 {
            throw .io(layer: layer, entry: shown, message: "truncate: \(String(cString: strerror(errno)))")
        }
        try applyMetadata(fd: fd, meta, shown: shown)
    }

    private func symlink(_ path: EntryPath, to target: [UInt8], _ meta: Metadata, shown: String) throws(UnpackError) {
        guard path.symlinkTargetStaysInside(target) else {
            throw .refused(layer: layer, entry: shown, reason: .symlinkEscapes(String(decoding: target, as: UTF8.self)))
        }
        let parent = try parentDirectory(of: path, shown: shown)
        try removeExisting(in: parent, path.name, shown: shown)
        let r = target.withCString { t in path.name.withCString { n in symlinkat(t, parent, n) } }
        guard r == 0 else { throw .io(layer: layer, entry: shown, message: "symlink: \(String(cString: strerror(errno)))") }
        try applyMetadata(at: parent, path.name, meta, isSymlink: true, shown: shown)
    }

    private func fifo(_ path: EntryPath, _ meta: Metadata, shown: String) throws(UnpackError) {
        let parent = try parentDirectory(of: path, shown: shown)
        try removeExisting(in: parent, path.name, shown: shown)
        guard path.name.withCString({ mknodat(parent, $0, S_IFIFO | 0o600, 0) }) == 0 else {
            throw .io(layer: layer, entry: shown, message: "mkfifo: \(String(cString: strerror(errno)))")
        }
        try applyMetadata(at: parent, path.name, meta, isSymlink: false, shown: shown)
    }

    private func hardLink(_ path: EntryPath, to rawTarget: [UInt8], shown: String) throws(UnpackError) {
        let targetShown = String(decoding: rawTarget, as: UTF8.self)
        let target: EntryPath
        do { target = try EntryPath.parse(rawTarget) } catch {
            throw .refused(layer: layer, entry: shown, reason: .hardLinkOutside(targetShown))
        }
        guard !target.isRoot else { throw .refused(layer: layer, entry: shown, reason: .hardLinkOutside(targetShown)) }
        if target == path { return }
        // Open the target's directory first (never creating anything) so a missing or
        // symlinked target is refused before the link's own directory is touched.
        let targetParent: Int32
        do {
            let fd = try tree.directory(target.parent, create: false)
            targetParent = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        } catch {
            switch error {
            case .throughSymlink(let p): throw .refused(layer: layer, entry: shown, reason: .throughSymlink(p))
            case .missing, .notDirectory: throw .refused(layer: layer, entry: shown, reason: .hardLinkMissingTarget(targetShown))
            case .system(let op, let code): throw .io(layer: layer, entry: shown, message: "\(op): \(String(cString: strerror(code)))")
            }
        }
        defer { close(targetParent) }
        guard let type = tree.fileType(in: targetParent, target.name) else {
            throw .refused(layer: layer, entry: shown, reason: .hardLinkMissingTarget(targetShown))
        }
        guard type != S_IFDIR else { throw .refused(layer: layer, entry: shown, reason: .unsupportedType("hard link to a directory")) }
        let parent = try parentDirectory(of: path, shown: shown)
        try removeExisting(in: parent, path.name, shown: shown)
        // Flags 0: a hard link to a symlink links the symlink itself, never what it points at.
        let r = target.name.withCString { t in path.name.withCString { n in linkat(targetParent, t, parent, n, 0) } }
        guard r == 0 else { throw .io(layer: layer, entry: shown, message: "link: \(String(cString: strerror(errno)))") }
    }

    private mutating func whiteout(_ path: EntryPath, shown: String) throws(UnpackError) {
        let name = path.name
        let parent = try parentDirectory(of: path, shown: shown)
        if name == Self.opaqueMarker {
            let r = "y".withCString { value in fsetxattr(parent, "trusted.overlay.opaque", value, 1, 0) }
            guard r == 0 else { throw .io(layer: layer, entry: shown, message: "setting trusted.overlay.opaque: \(String(cString: strerror(errno)))") }
            return
        }
        // Other `.wh..wh.` names are AUFS bookkeeping with no meaning for overlayfs.
        if name.starts(with: Self.metaPrefix) { return }
        let hidden = Array(name.dropFirst(Self.whiteoutPrefix.count))
        guard !hidden.isEmpty, hidden != [UInt8(ascii: ".")], hidden != [UInt8(ascii: "."), UInt8(ascii: ".")] else {
            throw .refused(layer: layer, entry: shown, reason: .invalidName)
        }
        try removeExisting(in: parent, hidden, shown: shown)
        guard hidden.withCString({ mknodat(parent, $0, S_IFCHR, 0) }) == 0 else {
            throw .io(layer: layer, entry: shown, message: "creating the whiteout device: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: Helpers

    private func parentDirectory(of path: EntryPath, shown: String) throws(UnpackError) -> Int32 {
        do { return try tree.directory(path.parent, create: true) } catch {
            switch error {
            case .throughSymlink(let p): throw .refused(layer: layer, entry: shown, reason: .throughSymlink(p))
            case .notDirectory(let p), .missing(let p): throw .refused(layer: layer, entry: shown, reason: .parentNotDirectory(p))
            case .system(let op, let code): throw .io(layer: layer, entry: shown, message: "\(op): \(String(cString: strerror(code)))")
            }
        }
    }

    private func removeExisting(in parent: Int32, _ name: [UInt8], shown: String) throws(UnpackError) {
        do { try tree.remove(in: parent, name) } catch {
            throw .io(layer: layer, entry: shown, message: "replacing the existing entry: \(error)")
        }
    }

    private func applyMetadata(fd: Int32, _ meta: Metadata, shown: String) throws(UnpackError) {
        if configuration.preserveOwnership, fchown(fd, meta.uid, meta.gid) != 0 {
            throw .io(layer: layer, entry: shown, message: "chown: \(String(cString: strerror(errno)))")
        }
        // After chown, which clears setuid/setgid bits.
        guard fchmod(fd, meta.mode & 0o7777) == 0 else {
            throw .io(layer: layer, entry: shown, message: "chmod: \(String(cString: strerror(errno)))")
        }
        for (name, value) in meta.xattrs where Self.appliesXattr(name) {
            let r = value.withUnsafeBytes { fsetxattr(fd, name, $0.baseAddress, value.count, 0) }
            if r != 0 && errno != ENOTSUP {
                throw .io(layer: layer, entry: shown, message: "setting xattr \(name): \(String(cString: strerror(errno)))")
            }
        }
        if let mtime = meta.mtime {
            let times = [meta.atime ?? mtime, mtime]
            guard futimens(fd, times) == 0 else {
                throw .io(layer: layer, entry: shown, message: "setting times: \(String(cString: strerror(errno)))")
            }
        }
    }

    private func applyMetadata(at parent: Int32, _ name: [UInt8], _ meta: Metadata, isSymlink: Bool, shown: String) throws(UnpackError) {
        try name.withCString { (cname) throws(UnpackError) in
            if configuration.preserveOwnership, fchownat(parent, cname, meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0 {
                throw .io(layer: layer, entry: shown, message: "chown: \(String(cString: strerror(errno)))")
            }
            // Symlink permissions are meaningless on Linux; a FIFO's are applied here.
            if !isSymlink, fchmodat(parent, cname, meta.mode & 0o7777, 0) != 0 {
                throw .io(layer: layer, entry: shown, message: "chmod: \(String(cString: strerror(errno)))")
            }
            if let mtime = meta.mtime {
                let times = [meta.atime ?? mtime, mtime]
                guard utimensat(parent, cname, times, AT_SYMLINK_NOFOLLOW) == 0 else {
                    throw .io(layer: layer, entry: shown, message: "setting times: \(String(cString: strerror(errno)))")
                }
            }
        }
    }

    /// `user.*` and `security.capability` are applied; `trusted.overlay.*` from a layer would
    /// forge overlayfs state and everything else is host policy, so both are ignored.
    static func appliesXattr(_ name: String) -> Bool {
        name.hasPrefix("user.") || name == "security.capability"
    }

    static func metadata(of entry: OpaquePointer) -> Metadata {
        var xattrs: [(String, [UInt8])] = []
        if archive_entry_xattr_reset(entry) > 0 {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK, let name {
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                xattrs.append((String(cString: name), bytes))
            }
        }
        let mtime = archive_entry_mtime_is_set(entry) != 0
            ? timespec(tv_sec: archive_entry_mtime(entry), tv_nsec: archive_entry_mtime_nsec(entry)) : nil
        let atime = archive_entry_atime_is_set(entry) != 0
            ? timespec(tv_sec: archive_entry_atime(entry), tv_nsec: archive_entry_atime_nsec(entry)) : nil
        return Metadata(
            mode: archive_entry_perm(entry),
            uid: uid_t(truncatingIfNeeded: archive_entry_uid(entry)),
            gid: gid_t(truncatingIfNeeded: archive_entry_gid(entry)),
            atime: atime, mtime: mtime, xattrs: xattrs)
    }

    static func bytes(_ pointer: UnsafePointer<CChar>?) -> [UInt8]? {
        guard let pointer else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }
}
