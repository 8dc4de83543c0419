/// Why a container's cgroup could not be read.
public enum CgroupError: Error, CustomStringConvertible, Sendable, Equatable {
    case notFound(id: String, path: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notFound(let id, let path):
            return "container \(id) has no cgroup at \(path); it is not running"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        }
    }
}
