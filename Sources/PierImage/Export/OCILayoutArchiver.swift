import Foundation
import PierOCI
#if canImport(Glibc)
import Glibc
#endif

/// Turns an OCI image layout directory (what `ImageBuilder` writes) into a tar, the form the
/// agent imports. Deterministic: sorted entries, mtime 0, owner 0:0, modes 0644/0755.
public enum OCILayoutArchiver {
    /// Writes the tar of `layout` to the file `destination` (atomically).
    public static func writeTar(of layout: URL, to destination: URL) throws {
        let entries = try collect(layout)
        try ImageExporter.writeArchive(to: destination) { writer in try write(entries, to: writer) }
    }

    /// Writes the tar of `layout` to an open descriptor (a pipe or a socket), which stays open.
    public static func writeTar(of layout: URL, toFileDescriptor fd: Int32) throws {
        let entries = try collect(layout)
        let writer = try TarWriter(fd: fd, gzip: false)
        try write(entries, to: writer)
        _ = try writer.finish()
    }

    private struct Entry {
        var path: String
        var url: URL
        var isDirectory: Bool
        var size: Int64
    }

    private static func collect(_ layout: URL) throws -> [Entry] {
        guard FileManager.default.fileExists(atPath: layout.appendingPathComponent("index.json").path) else {
            throw ExportError.io("\(layout.path) is not an OCI image layout (no index.json)")
        }
        var entries: [Entry] = []
        func walk(_ url: URL, _ relative: String) throws {
            let names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
            for name in names where !name.hasPrefix(".") {
                let child = url.appendingPathComponent(name)
                let path = relative.isEmpty ? name : relative + "/" + name
                var st = stat()
                guard lstat(child.path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    entries.append(Entry(path: path, url: child, isDirectory: true, size: 0))
                    try walk(child, path)
                case S_IFREG:
                    entries.append(Entry(path: path, url: child, isDirectory: false, size: Int64(st.st_size)))
                default:
                    throw ExportError.io("\(child.path) is neither a file nor a directory; an image layout holds only those")
                }
            }
        }
        try walk(layout, "")
        return entries.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
    }

    private static func write(_ entries: [Entry], to writer: TarWriter) throws {
        for entry in entries {
            if entry.isDirectory {
                try writer.add(TarHeader(path: entry.path, kind: .directory, mode: 0o755))
            } else {
                try writer.add(TarHeader(path: entry.path, kind: .file(size: entry.size), mode: 0o644), source: entry.url)
            }
        }
    }
}
