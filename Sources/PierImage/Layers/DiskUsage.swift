import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bytes a directory tree takes on disk (allocated blocks, each hard-linked inode once),
/// walked without following symbolic links.
enum DiskUsage {
    static func bytes(of url: URL) -> Int64 {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            var st = stat()
            return lstat(url.path, &st) == 0 ? Int64(st.st_blocks) * 512 : 0
        }
        var seen = Set<UInt64>()
        var st = stat()
        guard fstat(fd, &st) == 0 else { close(fd); return 0 }
        return Int64(st.st_blocks) * 512 + walk(fd, seen: &seen)
    }

    /// Sums the children of the open directory `fd`, closing it.
    private static func walk(_ fd: Int32, seen: inout Set<UInt64>) -> Int64 {
        guard let dir = fdopendir(fd) else { close(fd); return 0 }
        defer { closedir(dir) }
        var total: Int64 = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var st = stat()
            guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if st.st_nlink > 1 && (st.st_mode & S_IFMT) != S_IFDIR {
                guard seen.insert(UInt64(st.st_ino)).inserted else { continue }
            }
            total += Int64(st.st_blocks) * 512
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let child = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if child >= 0 { total += walk(child, seen: &seen) }
            }
        }
        return total
    }
}
