import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `--device HOST[:CONTAINER][:rwm]`: a host device node made visible in the container, and
/// allowed in its device cgroup with exactly these permissions. Nothing else from the host's
/// /dev is visible.
public struct DeviceMapping: Sendable, Hashable {
    /// Character or block device (`c` or `b` in the runtime spec).
    public enum Kind: String, Sendable, Hashable {
        case character = "c"
        case block = "b"
    }

    /// The node's device node.
    public var hostPath: String
    /// Where it appears in the container.
    public var containerPath: String
    /// A non-empty combination of `r` (read), `w` (write), `m` (mknod).
    public var permissions: String
    public var kind: Kind
    public var major: Int64
    public var minor: Int64
    /// Permission bits of the host node, given to the container's node.
    public var fileMode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    public init(
        hostPath: String, containerPath: String, permissions: String, kind: Kind, major: Int64, minor: Int64,
        fileMode: UInt32 = 0o666, uid: UInt32 = 0, gid: UInt32 = 0
    ) {
        self.hostPath = hostPath; self.containerPath = containerPath; self.permissions = permissions
        self.kind = kind; self.major = major; self.minor = minor; self.fileMode = fileMode; self.uid = uid; self.gid = gid
    }

    /// Parses a `--device` value and looks the host node up (type, major and minor numbers).
    public init(parsing text: String) throws {
        let flag = "--device"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var host = "", container: String?, permissions = "rwm"
        switch parts.count {
        case 1:
            host = parts[0]
        case 2:
            host = parts[0]
            if Self.isPermissions(parts[1]) { permissions = parts[1] } else { container = parts[1] }
        case 3:
            host = parts[0]; container = parts[1]; permissions = parts[2]
        default:
            throw RuntimeOptionError.invalid(
                flag: flag, value: text, expected: "expected HOST[:CONTAINER][:rwm], e.g. /dev/ttyUSB0:/dev/ttyUSB0:rw")
        }
        guard host.hasPrefix("/") else {
            throw RuntimeOptionError.invalid(flag: flag, value: text, expected: "the host path must be absolute, e.g. /dev/gpiochip0")
        }
        let containerPath = container ?? host
        guard containerPath.hasPrefix("/"), containerPath != "/", !containerPath.split(separator: "/").contains("..") else {
            throw RuntimeOptionError.invalid(flag: flag, value: text, expected: "the container path must be absolute and without '..'")
        }
        guard Self.isPermissions(permissions) else {
            throw RuntimeOptionError.invalid(
                flag: flag, value: text, expected: "permissions \"\(permissions)\" must combine r, w and m, each at most once")
        }
        var st = stat()
        guard stat(host, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw RuntimeOptionError.deviceMissing(path: host) }
            throw RuntimeOptionError.invalid(flag: flag, value: text, expected: "cannot inspect \(host): \(SystemCalls.errorString(errno))")
        }
        let type = st.st_mode & 0o170000
        let kind: Kind
        switch type {
        case 0o020000: kind = .character
        case 0o060000: kind = .block
        default: throw RuntimeOptionError.notADevice(path: host)
        }
        let dev = UInt64(st.st_rdev)
        self.init(
            hostPath: host, containerPath: BindMount.normalize(containerPath), permissions: permissions, kind: kind,
            major: Int64(SystemCalls.major(dev)), minor: Int64(SystemCalls.minor(dev)), fileMode: UInt32(st.st_mode & 0o777),
            uid: st.st_uid, gid: st.st_gid)
    }

    static func isPermissions(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 3 && s.allSatisfy { "rwm".contains($0) } && Set(s).count == s.count
    }
}
