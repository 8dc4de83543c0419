import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Small wrappers over Linux calls that Swift's Glibc module does not import, and helpers
/// for the raw values they return.
enum SystemCalls {
    /// `strerror(errno)` as a Swift string.
    static func errorString(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    /// `pidfd_open(2)` (Linux ≥ 5.3), looked up at run time: glibc's `sys/pidfd.h` is not
    /// part of Swift's Glibc module.
    static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "pidfd_open") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
    }()

    /// `pipe2(2)`, which needs `_GNU_SOURCE` and so is not imported either.
    private static let pipe2Function: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32)? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "pipe2") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32).self)
    }()

    /// Opens a close-on-exec pipe atomically (no other thread's child can inherit it).
    /// Returns false with `errno` set on failure.
    static func closeOnExecPipe(_ fds: inout [Int32]) -> Bool {
        if fds.count < 2 { fds = [-1, -1] }
        if let pipe2Function {
            return fds.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return false }
                return pipe2Function(base, O_CLOEXEC) == 0
            }
        }
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    /// `O_PATH` (Linux): a descriptor that only names a file.
    static let openPathOnly: Int32 = 0o10000000

    /// Reads a whole file with read(2). Foundation stops at 4 KiB for /proc files, whose size
    /// is reported as 0, so /proc/self/mountinfo and the like are read with this.
    static func readFile(_ path: String, limit: Int = 16 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// `readFile` as UTF-8 text.
    static func readText(_ path: String) -> String? {
        readFile(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Major number of a `dev_t` (glibc's encoding, as `major(3)`).
    static func major(_ dev: UInt64) -> UInt32 {
        UInt32(((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
    }

    /// Minor number of a `dev_t` (glibc's encoding, as `minor(3)`).
    static func minor(_ dev: UInt64) -> UInt32 {
        UInt32((dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    }

    /// A `dev_t` from major and minor numbers (as `makedev(3)`).
    static func makedev(_ major: UInt32, _ minor: UInt32) -> UInt64 {
        let ma = UInt64(major), mi = UInt64(minor)
        return ((ma & 0xfff) << 8) | ((ma & ~UInt64(0xfff)) << 32) | (mi & 0xff) | ((mi & ~UInt64(0xff)) << 12)
    }

    /// Decodes a `waitpid` status.
    static func exit(fromWaitStatus status: Int32) -> ProcessExit {
        let low = status & 0x7f
        if low == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(low)
    }

    /// Whether a process with this pid exists (zombies included).
    static func processExists(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Writes `data` to `url` atomically: a temp file beside it, fsync (when `durable`), rename.
    /// Files rewritten at every container start (bundle, etc files) need no fsync: a crash
    /// leaves the old or the new file, and the next start writes them again.
    static func writeAtomically(_ data: Data, to url: URL, mode: mode_t = 0o644, durable: Bool = true) throws {
        let temp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp.\(getpid()).\(UInt32.random(in: 0...UInt32.max))")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileError.cannotWrite(url.path, errorString(errno)) }
        // Exactly `mode`: the daemon's umask (077) must not hide /etc/hosts from a container's users.
        fchmod(fd, mode)
        var ok = data.withUnsafeBytes { buffer -> Bool in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, base + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        let writeErrno = errno
        if ok && durable && fsync(fd) != 0 { ok = false }
        close(fd)
        guard ok, rename(temp.path, url.path) == 0 else {
            let reason = errorString(ok ? errno : writeErrno)
            unlink(temp.path)
            throw FileError.cannotWrite(url.path, reason)
        }
    }

    /// Mount points below (and including) `path`, deepest first, from /proc/self/mountinfo.
    static func mountPoints(under path: String) -> [String] {
        guard let text = readText("/proc/self/mountinfo") else { return [] }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var found: [String] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count > 4 else { continue }
            let mountPoint = unescapeMountInfo(String(fields[4]))
            if mountPoint == path || mountPoint.hasPrefix(prefix) { found.append(mountPoint) }
        }
        return found.sorted { $0.count > $1.count }
    }

    /// Whether `path` is itself a mount point.
    static func isMountPoint(_ path: String) -> Bool {
        mountPoints(under: path).contains(path)
    }

    /// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
    private static func unescapeMountInfo(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = []
        let bytes = Array(s.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count,
                let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                out.append(v)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
