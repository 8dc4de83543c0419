/// A `--user` resolved to numbers against the container's /etc/passwd and /etc/group.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups: those that list the user by name, when no group was given.
    public var additionalGids: [UInt32]
    /// From /etc/passwd, when the user is listed there.
    public var name: String?
    public var home: String?

    public init(uid: UInt32, gid: UInt32, additionalGids: [UInt32] = [], name: String? = nil, home: String? = nil) {
        self.uid = uid; self.gid = gid; self.additionalGids = additionalGids; self.name = name; self.home = home
    }

    /// uid 0, gid 0.
    public static let root = ResolvedUser(uid: 0, gid: 0, name: "root", home: "/root")
}
