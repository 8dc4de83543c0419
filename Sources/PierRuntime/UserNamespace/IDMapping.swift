/// A container's user namespace: its uids and gids 0 to `count - 1` are the host's
/// `uidStart…` and `gidStart…`, so its root is an unprivileged user on the host.
public struct IDMapping: Sendable, Hashable, Codable, CustomStringConvertible {
    public var uidStart: UInt32
    public var gidStart: UInt32
    public var count: UInt32

    /// A range smaller than this cannot hold the ids images use (`nobody` is 65534).
    public static let minimumCount: UInt32 = 65536

    public init(uidStart: UInt32, gidStart: UInt32, count: UInt32) {
        self.uidStart = uidStart; self.gidStart = gidStart; self.count = count
    }

    /// `/proc/PID/uid_map` and runtime-spec form: `0 START COUNT`.
    public var uidMapLine: String { "0 \(uidStart) \(count)\n" }
    public var gidMapLine: String { "0 \(gidStart) \(count)\n" }

    public var description: String { "uid \(uidStart)-\(uidStart + count - 1), gid \(gidStart)-\(gidStart + count - 1)" }
}

/// How a node keeps image layers for containers in a user namespace.
public enum LayerIDMapping: String, Sendable, Codable {
    /// Each lower layer is mounted idmapped (Linux ≥ 5.19): stored once for every range.
    case idmapped
    /// A copy of each layer chowned into the range, made once per range.
    case chownedCopy = "chowned-copy"
}

