/// `--device HOST[:CONTAINER][:rwm]` as given: a host device node to make visible in the
/// container, allowed in its device cgroup with exactly these permissions. The node that runs
/// the container looks the host node up (the runtime's `DeviceMapping`).
public struct DeviceRequest: Sendable, Hashable {
    public static let flag = "--device"
    /// The node's device node.
    public var hostPath: String
    /// Where it appears in the container.
    public var containerPath: String
    /// A non-empty combination of `r` (read), `w` (write), `m` (mknod).
    public var permissions: String

    public init(hostPath: String, containerPath: String, permissions: String = "rwm") {
        self.hostPath = hostPath; self.containerPath = containerPath; self.permissions = permissions
    }

    /// Parses a `--device` value; the host node is not looked at.
    public init(parsing text: String) throws {
        let flag = Self.flag
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
            throw ContainerSpecError.invalid(
                flag: flag, value: text, expected: "expected HOST[:CONTAINER][:rwm], e.g. /dev/ttyUSB0:/dev/ttyUSB0:rw")
        }
        guard host.hasPrefix("/") else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the host path must be absolute, e.g. /dev/gpiochip0")
        }
        let containerPath = container ?? host
        guard containerPath.hasPrefix("/"), containerPath != "/", !containerPath.split(separator: "/").contains("..") else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the container path must be absolute and without '..'")
        }
        guard Self.isPermissions(permissions) else {
            throw ContainerSpecError.invalid(
                flag: flag, value: text, expected: "permissions \"\(permissions)\" must combine r, w and m, each at most once")
        }
        self.init(hostPath: BindMount.normalize(host), containerPath: BindMount.normalize(containerPath), permissions: permissions)
    }

    static func isPermissions(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 3 && s.allSatisfy { "rwm".contains($0) } && Set(s).count == s.count
    }
}
