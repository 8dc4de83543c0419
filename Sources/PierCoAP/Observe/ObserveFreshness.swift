/// The client's rule for ordering notifications (RFC 7641 §3.4).
///
/// A notification is newer than the last one if its 24-bit sequence number is ahead by less than
/// 2^23 (modulo 2^24), or if more than 128 seconds passed since the last one arrived; older ones
/// are dropped so a reordered datagram never overwrites fresher state.
public struct ObserveFreshness: Sendable, Hashable {
    /// Seconds after which any notification counts as fresh.
    public static let window: Double = 128

    private var last: (sequence: UInt32, time: Double)?

    public init() {}

    /// Whether a notification with `sequence`, received at `now`, is fresh; records it if so.
    public mutating func accept(sequence: UInt32, now: Double) -> Bool {
        let v2 = sequence & 0xFF_FFFF
        guard let (v1, t1) = last else {
            last = (v2, now)
            return true
        }
        let fresh = (v1 < v2 && v2 - v1 < 1 << 23) || (v1 > v2 && v1 - v2 > 1 << 23) || now > t1 + Self.window
        if fresh { last = (v2, now) }
        return fresh
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.last?.sequence == rhs.last?.sequence && lhs.last?.time == rhs.last?.time
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(last?.sequence)
        hasher.combine(last?.time)
    }
}
