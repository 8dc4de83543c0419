import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Crash-safe file writes: a reader sees the old content or the new one, never a mix.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `url`, fsyncs it, renames it over `url` and
    /// fsyncs the directory.
    public static func write(_ data: Data, to url: URL, permissions: mode_t = 0o644) throws {
        let directory = url.deletingLastPathComponent()
        let temp = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(randomSuffix())")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw FileSystemError.errno(errno, "create", temp.path) }
        var ok = false
        defer {
            if !ok { unlink(temp.path) }
        }
        do {
            try data.withUnsafeBytes { raw in try writeAll(fd: fd, raw, path: temp.path) }
            guard fsync(fd) == 0 else { throw FileSystemError.errno(errno, "fsync", temp.path) }
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        guard rename(temp.path, url.path) == 0 else { throw FileSystemError.errno(errno, "rename", url.path) }
        ok = true
        try syncDirectory(directory)
    }

    /// fsyncs a directory so that renames and new entries in it survive a crash.
    public static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError.errno(errno, "open", url.path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError.errno(errno, "fsync", url.path) }
    }

    /// Writes every byte of `buffer` to `fd`, retrying short writes and EINTR.
    public static func writeAll(fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        guard var base = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let n = Glibc.write(fd, base, remaining)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError.errno(errno, "write", path)
            }
            remaining -= n
            base += n
        }
    }

    /// 16 random hex characters for temporary names.
    public static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16)
    }
}

/// A failed system call on a path.
public enum FileSystemError: Error, Sendable, CustomStringConvertible {
    case errno(Int32, String, String)

    public var description: String {
        switch self {
        case .errno(let code, let op, let path):
            "\(op) \(path) failed: \(String(cString: strerror(code)))"
        }
    }
}
