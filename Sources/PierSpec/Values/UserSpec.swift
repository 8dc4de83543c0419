/// `--user`: `name`, `uid`, `name:group`, `uid:gid` (either part by name or number). Names are
/// resolved against the container's own /etc/passwd and /etc/group (`UserResolver`).
public struct UserSpec: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    public var group: String?

    public init(user: String, group: String? = nil) {
        self.user = user; self.group = group
    }

    /// Checks the syntax only; names are resolved when the rootfs is mounted.
    public init(parsing text: String, flag: String = "--user") throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let valid: (String) -> Bool = { s in
            !s.isEmpty && s.count <= 256 && s.unicodeScalars.allSatisfy { $0.value > 32 && $0.value < 127 && $0 != "/" }
        }
        guard parts.count <= 2, valid(parts[0]), parts.count == 1 || valid(parts[1]) else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "expected name, uid, name:group or uid:gid")
        }
        if let uid = Int64(parts[0]), uid < 0 || uid > Int64(UInt32.max) - 1 {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the uid must be between 0 and 4294967294")
        }
        if parts.count == 2, let gid = Int64(parts[1]), gid < 0 || gid > Int64(UInt32.max) - 1 {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the gid must be between 0 and 4294967294")
        }
        self.init(user: parts[0], group: parts.count == 2 ? parts[1] : nil)
    }

    public var description: String { group.map { "\(user):\($0)" } ?? user }
}
