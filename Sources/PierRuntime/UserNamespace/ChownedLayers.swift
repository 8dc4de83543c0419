import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Where the kernel cannot idmap mounts: a copy of each layer with every owner moved into the
/// range (Docker's `--userns-remap` way), made once per range and shared by every container of
/// that range. Copies whose layer is gone are removed by ``prune()``.
public struct ChownedLayers: Sendable {
    public var root: URL

    public init(root: URL) { self.root = root }

    /// The copies of `layers` for `mapping`, made where missing.
    public func prepare(_ layers: [URL], mapping: IDMapping) throws -> [URL] {
        let dir = root.appendingPathComponent("\(mapping.uidStart)-\(mapping.gidStart)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try layers.map { layer in
            let name = layer.path.replacingOccurrences(of: "/", with: "_")
            let copy = dir.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: copy.path) { return copy }
            let temporary = dir.appendingPathComponent(".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
            defer { try? FileManager.default.removeItem(at: temporary) }
            let result = try Subprocess.run("/bin/cp", ["-a", "--reflink=auto", layer.path, temporary.path], timeout: .seconds(600))
            guard result.succeeded else {
                throw UserNamespaceError.unsupported("copying layer \(layer.path) for the range failed: \(result.stderrText)")
            }
            try Self.shift(temporary.path, by: mapping)
            try Data(layer.path.utf8).write(to: dir.appendingPathComponent(name + ".source"))
            if rename(temporary.path, copy.path) != 0 && errno != EEXIST && errno != ENOTEMPTY {
                throw UserNamespaceError.unsupported("cannot move the copy of \(layer.path) into place: \(SystemCalls.errorString(errno))")
            }
            return copy
        }
    }

    /// Moves every owner under `path` into the range; hard links are shifted once, and the
    /// set-id bits chown clears are put back.
    static func shift(_ path: String, by mapping: IDMapping) throws {
        var seen = Set<[UInt64]>()
        func visit(_ p: String) throws {
            var st = stat()
            guard lstat(p, &st) == 0 else { throw UserNamespaceError.unsupported("lstat \(p): \(SystemCalls.errorString(errno))") }
            guard seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { return }
            guard st.st_uid < mapping.count, st.st_gid < mapping.count else {
                throw UserNamespaceError.unsupported("\(p) is owned by \(st.st_uid):\(st.st_gid), outside the range's \(mapping.count) ids")
            }
            guard lchown(p, mapping.uidStart + st.st_uid, mapping.gidStart + st.st_gid) == 0 else {
                throw UserNamespaceError.unsupported("chown \(p): \(SystemCalls.errorString(errno))")
            }
            if (st.st_mode & S_IFMT) != S_IFLNK { chmod(p, st.st_mode & 0o7777) }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                for entry in try FileManager.default.contentsOfDirectory(atPath: p) { try visit(p + "/" + entry) }
            }
        }
        try visit(path)
    }

    /// Removes the copies of layers that no longer exist.
    public func prune() {
        let fm = FileManager.default
        for range in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] {
            let dir = root.appendingPathComponent(range)
            for entry in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where entry.hasSuffix(".source") {
                let sidecar = dir.appendingPathComponent(entry)
                guard let source = try? String(contentsOf: sidecar, encoding: .utf8), !fm.fileExists(atPath: source) else { continue }
                try? fm.removeItem(at: dir.appendingPathComponent(String(entry.dropLast(".source".count))))
                try? fm.removeItem(at: sidecar)
            }
        }
    }
}
