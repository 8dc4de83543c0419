/// Identifies one request a client sent through `CoAPMessageLayer`, so responses and failures
/// can be routed back to whoever is waiting for them.
public struct CoAPRequestHandle: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "request#\(rawValue)" }
}

/// Why a request got no response.
public enum CoAPRequestFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// No acknowledgement after the last retransmission, or no response in time.
    case timeout
    /// The peer answered with a Reset: it could not process the request.
    case reset
    /// Too many requests already wait for this peer (NSTART queue full).
    case queueFull
    /// Too many requests are pending in total.
    case tooManyPending

    public var description: String {
        switch self {
        case .timeout: "CoAP request timed out: no acknowledgement or response from the peer; check that it is reachable"
        case .reset: "CoAP peer answered with Reset: it rejected the request"
        case .queueFull: "CoAP request queue for this peer is full (NSTART); wait for earlier requests to finish"
        case .tooManyPending: "too many CoAP requests pending; wait for earlier requests to finish"
        }
    }
}
