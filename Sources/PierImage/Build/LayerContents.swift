import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// The files of one new layer, keyed by their path in the image, written as a sorted,
/// reproducible tar: parent directories added, every time set to one timestamp, one owner.
struct LayerContents {
    enum Node: Equatable {
        case directory(mode: mode_t)
        case file(source: URL, size: Int64, mode: mode_t, inode: FileID?)
        case symlink(target: String)
    }

    /// Device and inode of a file with several hard links, so they stay linked in the layer.
    struct FileID: Hashable { var device: UInt64; var inode: UInt64 }

    private(set) var nodes: [String: Node] = [:]

    /// Adds a file, a symlink, or a directory and everything below it (symlinks not followed).
    mutating func add(_ item: ImageBuildRequest.CopyItem) throws(ImageBuildError) {
        let destination = try Self.normalize(item.destination)
        try addTree(source: item.source, destination: destination)
        if item.withLibs {
            var st = stat()
            guard stat(item.source.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
                throw .notELF(item.source.path)
            }
            for library in try ELFDependencies().files(for: item.source.path) {
                try addResolvedFile(hostPath: library)
            }
        }
    }

    /// Adds a host file at its own path, following symlinks to the content (libraries and the
    /// ELF interpreter are looked up by those paths).
    mutating func addResolvedFile(hostPath: String) throws(ImageBuildError) {
        let destination = try Self.normalize(hostPath)
        var st = stat()
        guard stat(hostPath, &st) == 0 else {
            throw .unreadableSource(hostPath, reason: String(cString: strerror(errno)))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .unsupportedFileType(hostPath, "not a regular file") }
        try insert(destination, .file(source: URL(fileURLWithPath: hostPath), size: Int64(st.st_size),
                                      mode: st.st_mode & 0o7777, inode: nil))
    }

    private mutating func addTree(source: URL, destination: String) throws(ImageBuildError) {
        var st = stat()
        guard lstat(source.path, &st) == 0 else {
            throw .unreadableSource(source.path, reason: String(cString: strerror(errno)))
        }
        switch st.st_mode & S_IFMT {
        case S_IFDIR:
            if !destination.isEmpty { try insert(destination, .directory(mode: st.st_mode & 0o7777)) }
            let children: [String]
            do { children = try FileManager.default.contentsOfDirectory(atPath: source.path) } catch {
                throw .unreadableSource(source.path, reason: error.localizedDescription)
            }
            for child in children.sorted() {
                try addTree(source: source.appendingPathComponent(child),
                            destination: destination.isEmpty ? child : destination + "/" + child)
            }
        case S_IFREG:
            guard !destination.isEmpty else { throw .invalidDestination("/", reason: "a file cannot replace the root directory") }
            let id = st.st_nlink > 1 ? FileID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) : nil
            try insert(destination, .file(source: source, size: Int64(st.st_size), mode: st.st_mode & 0o7777, inode: id))
        case S_IFLNK:
            guard !destination.isEmpty else { throw .invalidDestination("/", reason: "a symlink cannot replace the root directory") }
            let target: String
            do { target = try FileManager.default.destinationOfSymbolicLink(atPath: source.path) } catch {
                throw .unreadableSource(source.path, reason: error.localizedDescription)
            }
            try insert(destination, .symlink(target: target))
        case S_IFIFO: throw .unsupportedFileType(source.path, "FIFO")
        case S_IFSOCK: throw .unsupportedFileType(source.path, "socket")
        default: throw .unsupportedFileType(source.path, "device node")
        }
    }

    private mutating func insert(_ path: String, _ node: Node) throws(ImageBuildError) {
        if let existing = nodes[path] {
            let existingIsDir = if case .directory = existing { true } else { false }
            let newIsDir = if case .directory = node { true } else { false }
            if existingIsDir != newIsDir { throw .conflictingEntries(path) }
        }
        nodes[path] = node
    }

    /// `/app/bin/` → `app/bin`; `..` is refused.
    static func normalize(_ destination: String) throws(ImageBuildError) -> String {
        var parts: [Substring] = []
        for part in destination.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { throw .invalidDestination(destination, reason: "\"..\" is not allowed") }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Every path to write, with implicit parent directories, in byte order (parents first).
    func entries() throws(ImageBuildError) -> [(path: String, node: Node)] {
        var all = nodes
        for path in nodes.keys {
            var parent = (path as NSString).deletingLastPathComponent
            while !parent.isEmpty {
                switch all[parent] {
                case nil: all[parent] = .directory(mode: 0o755)
                case .directory: break
                default: throw .conflictingEntries(parent)
                }
                parent = (parent as NSString).deletingLastPathComponent
            }
        }
        return all.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }.map { ($0.key, $0.value) }
    }

    /// Writes the layer's entries.
    func write(to writer: TarWriter, mtime: Int64, ownership: ImageBuildRequest.Ownership) throws {
        var firstPathOfInode: [FileID: String] = [:]
        for (path, node) in try entries() {
            var header = TarHeader(path: path, kind: .directory, mode: 0o755, uid: ownership.uid, gid: ownership.gid, mtime: mtime)
            switch node {
            case .directory(let mode):
                header.mode = mode
                try writer.add(header)
            case .symlink(let target):
                header.kind = .symlink(target: target)
                header.mode = 0o777
                try writer.add(header)
            case .file(let source, let size, let mode, let inode):
                header.mode = mode
                if let inode, let first = firstPathOfInode[inode] {
                    header.kind = .hardLink(target: first)
                    try writer.add(header)
                } else {
                    if let inode { firstPathOfInode[inode] = path }
                    header.kind = .file(size: size)
                    try writer.add(header, source: source)
                }
            }
        }
    }
}
