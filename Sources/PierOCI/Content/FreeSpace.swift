import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Space an unprivileged writer may still use on a file system (statvfs `f_bavail`).
public enum FreeSpace {
    /// Free bytes on the file system holding `url` (or its nearest existing parent); nil when
    /// statvfs fails.
    public static func bytes(at url: URL) -> Int64? {
        var path = url.path
        var info = statvfs()
        while statvfs(path, &info) != 0 {
            guard errno == ENOENT, path != "/" else { return nil }
            path = (path as NSString).deletingLastPathComponent
            if path.isEmpty { path = "/" }
        }
        let (product, overflow) = Int64(clamping: info.f_bavail).multipliedReportingOverflow(by: Int64(clamping: info.f_frsize))
        return overflow ? .max : product
    }
}
