import Foundation

/// `-v HOST:CONTAINER[:ro|rw]`: a host directory or file bind-mounted into the container.
public struct BindMount: Sendable, Hashable {
    public var source: String
    public var destination: String
    public var readOnly: Bool

    public init(source: String, destination: String, readOnly: Bool) {
        self.source = source; self.destination = destination; self.readOnly = readOnly
    }

    /// Parses and checks a `--volume` value: the host path must exist and both paths be absolute.
    public init(parsing text: String, checkHostPath: Bool = false) throws {
        let flag = "--volume"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "expected HOST:CONTAINER[:ro|rw], e.g. /srv/data:/data:ro")
        }
        guard parts[0].hasPrefix("/") else {
            throw ContainerSpecError.invalid(
                flag: flag, value: text,
                expected: "the host path \(parts[0]) is not absolute; named volumes are not supported, give /absolute/host/path")
        }
        let destination = Self.normalize(parts[1])
        guard parts[1].hasPrefix("/"), destination != "/", !parts[1].split(separator: "/").contains("..") else {
            throw ContainerSpecError.invalid(
                flag: flag, value: text, expected: "the container path \(parts[1]) must be absolute, not /, and without '..'")
        }
        var readOnly = false
        if parts.count == 3 {
            switch parts[2] {
            case "ro": readOnly = true
            case "rw": readOnly = false
            default:
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the mode \"\(parts[2])\" is not ro or rw")
            }
        }
        let source = Self.normalize(parts[0])
        if checkHostPath && !FileManager.default.fileExists(atPath: source) {
            throw ContainerSpecError.hostPathMissing(flag: flag, path: source)
        }
        self.init(source: source, destination: destination, readOnly: readOnly)
    }

    /// Collapses repeated and trailing slashes: `/a//b/` → `/a/b`.
    static func normalize(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
