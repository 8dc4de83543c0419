/// A recipient's replay window (RFC 8613 §7.4): the highest sequence number accepted and which of
/// the 63 below it were; anything older is refused. Sliding, so reordered requests within the
/// window are accepted once each.
///
/// A window starts empty (a brand-new context: any number is fresh) or uninitialized, after a
/// restart, when what was accepted before is unknown: then nothing is accepted until the client
/// has proved freshness with an Echo (Appendix B.1.2), and the window starts at that request.
public struct OSCOREReplayWindow: Sendable, Hashable {
    /// Sequence numbers the window covers below and including the highest.
    public static let size: UInt64 = 64

    /// The highest sequence number accepted; nil while nothing was.
    public private(set) var highest: UInt64?
    /// Bit i set: `highest - i` was accepted.
    private var seen: UInt64 = 0

    /// A window in which every sequence number is fresh.
    public static var empty: OSCOREReplayWindow { OSCOREReplayWindow(highest: nil) }

    private init(highest: UInt64?) { self.highest = highest }

    /// A window whose only accepted number is `sequence` and where nothing below it is fresh: the
    /// state after an Echo-verified request (Appendix B.1.2).
    public static func startingAt(_ sequence: UInt64) -> OSCOREReplayWindow {
        var w = OSCOREReplayWindow(highest: sequence)
        w.seen = ~0
        return w
    }

    /// Whether `sequence` would be accepted; does not record it.
    public func isFresh(_ sequence: UInt64) -> Bool {
        guard let highest else { return true }
        if sequence > highest { return true }
        let age = highest - sequence
        return age < Self.size && seen & (1 << age) == 0
    }

    /// Records an accepted sequence number (call after the request verified).
    public mutating func accept(_ sequence: UInt64) {
        guard let h = highest else {
            highest = sequence
            seen = 1
            return
        }
        if sequence > h {
            let shift = sequence - h
            seen = shift >= Self.size ? 1 : seen << shift | 1
            highest = sequence
        } else if h - sequence < Self.size {
            seen |= 1 << (h - sequence)
        }
    }
}
