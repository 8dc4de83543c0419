/// A run option that cannot be used. Every message names the flag and the bad value, and
/// says what is accepted.
public enum ContainerSpecError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `flag` got `value`; `expected` says what would be accepted.
    case invalid(flag: String, value: String, expected: String)
    /// A `--volume` host path that does not exist.
    case hostPathMissing(flag: String, path: String)
    /// A `--device` that does not exist on this node.
    case deviceMissing(path: String)
    /// A `--device` path that exists but is not a character or block device.
    case notADevice(path: String)
    /// A `--user` name (or group) that the image's /etc/passwd (or /etc/group) does not list.
    case unknownUser(flag: String, name: String, file: String)
    /// Options that cannot be combined.
    case conflict(String)
    /// A field outside its range; `message` names the field, the value and the range.
    case outOfRange(field: String, message: String)

    /// The field (its `pier run` flag) the error is about, when it is about one.
    public var field: String? {
        switch self {
        case .invalid(let flag, _, _), .hostPathMissing(let flag, _), .unknownUser(let flag, _, _): return flag
        case .deviceMissing, .notADevice: return "--device"
        case .outOfRange(let field, _): return field
        case .conflict: return nil
        }
    }

    public var description: String {
        switch self {
        case .invalid(let flag, let value, let expected):
            return "invalid \(flag) \"\(value)\": \(expected)"
        case .hostPathMissing(let flag, let path):
            return "\(flag): host path \(path) does not exist; create it first or fix the path"
        case .deviceMissing(let path):
            return "device \(path) does not exist on this node"
        case .notADevice(let path):
            return "--device \(path): not a character or block device; give a device node such as /dev/ttyUSB0"
        case .unknownUser(let flag, let name, let file):
            return "\(flag) \"\(name)\": no such entry in the image's \(file); use a name listed there or a numeric id"
        case .conflict(let message), .outOfRange(_, let message):
            return message
        }
    }
}
