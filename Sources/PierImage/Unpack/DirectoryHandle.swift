import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A directory tree written only through file descriptors: every component is opened with
/// `O_NOFOLLOW`, so no symbolic link inside the tree is ever followed, and nothing can be
/// created outside it.
final class DirectoryHandle {
    /// Why a path inside the tree could not be opened.
    enum PathFailure: Error {
        case throughSymlink(String)
        case notDirectory(String)
        case missing(String)
        case system(String, Int32)
    }

    let rootFD: Int32
    private var cachedPath: EntryPath?
    private var cachedFD: Int32 = -1

    init(path: String) throws {
        rootFD = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard rootFD >= 0 else { throw FileSystemFailure(op: "open", path: path, code: errno) }
    }

    deinit {
        if cachedFD >= 0 { close(cachedFD) }
        close(rootFD)
    }

    /// Forgets the cached directory (after something under it may have been replaced).
    func invalidate() {
        if cachedFD >= 0 { close(cachedFD) }
        cachedFD = -1
        cachedPath = nil
    }

    /// A descriptor for the directory at `path` (owned by the handle: do not close it), creating
    /// missing directories (mode 0755) when `create` is set.
    func directory(_ path: EntryPath, create: Bool) throws(PathFailure) -> Int32 {
        if path.isRoot { return rootFD }
        if path == cachedPath, cachedFD >= 0 { return cachedFD }
        invalidate()
        var current = rootFD
        var walked: [[UInt8]] = []
        for component in path.components {
            walked.append(component)
            let next = try openChild(of: current, component, create: create, walked: walked)
            if current != rootFD { close(current) }
            current = next
        }
        cachedPath = path
        cachedFD = current
        return current
    }

    private func openChild(of parent: Int32, _ name: [UInt8], create: Bool, walked: [[UInt8]]) throws(PathFailure) -> Int32 {
        let shown = EntryPath(components: walked).display
        for _ in 0..<2 {
            let fd = name.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if fd >= 0 { return fd }
            let code = errno
            switch code {
            case ENOENT:
                guard create else { throw .missing(shown) }
                let r = name.withCString { mkdirat(parent, $0, 0o755) }
                if r != 0 && errno != EEXIST { throw .system("mkdir \(shown)", errno) }
                // A parent the layer does not list gets 0755 whatever the daemon's umask (077).
                if r == 0 { _ = name.withCString { fchmodat(parent, $0, 0o755, 0) } }
            case ELOOP, ENOTDIR:
                var st = stat()
                let isLink = name.withCString { fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) } == 0
                    && (st.st_mode & S_IFMT) == S_IFLNK
                throw isLink ? .throughSymlink(shown) : .notDirectory(shown)
            default:
                throw .system("open \(shown)", code)
            }
        }
        throw .system("open \(shown)", ENOENT)
    }

    /// The type bits of `name` in `parent`, or nil when it does not exist.
    func fileType(in parent: Int32, _ name: [UInt8]) -> mode_t? {
        var st = stat()
        guard name.withCString({ fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
        return st.st_mode & S_IFMT
    }

    /// Removes `name` from `parent`, recursively when it is a directory (never following links).
    func remove(in parent: Int32, _ name: [UInt8]) throws(PathFailure) {
        guard let type = fileType(in: parent, name) else { return }
        if type == S_IFDIR {
            invalidate()
            try removeTree(in: parent, name)
        } else if name.withCString({ unlinkat(parent, $0, 0) }) != 0 && errno != ENOENT {
            throw .system("unlink \(String(decoding: name, as: UTF8.self))", errno)
        }
    }

    private func removeTree(in parent: Int32, _ name: [UInt8]) throws(PathFailure) {
        let shown = String(decoding: name, as: UTF8.self)
        let fd = name.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw .system("open \(shown)", errno) }
        guard let dir = fdopendir(fd) else {
            close(fd)
            throw .system("opendir \(shown)", errno)
        }
        var children: [[UInt8]] = []
        while let entry = readdir(dir) {
            let child = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            if child == [UInt8(ascii: ".")] || child == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            children.append(child)
        }
        defer { closedir(dir) }
        for child in children {
            if fileType(in: fd, child) == S_IFDIR {
                try removeTree(in: fd, child)
            } else if child.withCString({ unlinkat(fd, $0, 0) }) != 0 && errno != ENOENT {
                throw .system("unlink \(shown)/\(String(decoding: child, as: UTF8.self))", errno)
            }
        }
        if name.withCString({ unlinkat(parent, $0, AT_REMOVEDIR) }) != 0 && errno != ENOENT {
            throw .system("rmdir \(shown)", errno)
        }
    }
}

/// A failed system call, for setup steps outside any entry.
struct FileSystemFailure: Error, CustomStringConvertible {
    var op: String
    var path: String
    var code: Int32
    var description: String { "\(op) \(path): \(String(cString: strerror(code)))" }
}
