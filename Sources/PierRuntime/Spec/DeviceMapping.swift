import Foundation
import PierSpec

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

    /// Looks the host node of a validated request up (type, major and minor numbers): done on
    /// the node that runs the container, when it is created.
    public init(resolving request: DeviceRequest) throws {
        let host = request.hostPath
        var st = stat()
        guard stat(host, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw ContainerSpecError.deviceMissing(path: host) }
            throw ContainerSpecError.invalid(
                flag: DeviceRequest.flag, value: host, expected: "cannot inspect \(host): \(SystemCalls.errorString(errno))")
        }
        let kind: Kind
        switch st.st_mode & 0o170000 {
        case 0o020000: kind = .character
        case 0o060000: kind = .block
        default: throw ContainerSpecError.notADevice(path: host)
        }
        let dev = UInt64(st.st_rdev)
        self.init(
            hostPath: host, containerPath: request.containerPath, permissions: request.permissions, kind: kind,
            major: Int64(SystemCalls.major(dev)), minor: Int64(SystemCalls.minor(dev)), fileMode: UInt32(st.st_mode & 0o777),
            uid: st.st_uid, gid: st.st_gid)
    }
}
