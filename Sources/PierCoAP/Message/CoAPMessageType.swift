/// The message type carried in the header's T field (RFC 7252 §3, §4).
public enum CoAPMessageType: UInt8, Codable, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Confirmable: retransmitted until acknowledged or reset.
    case confirmable = 0
    /// Non-confirmable: sent once, never acknowledged.
    case nonConfirmable = 1
    /// Acknowledgement of a confirmable message, possibly carrying a piggybacked response.
    case acknowledgement = 2
    /// Reset: the receiver could not process the message it answers.
    case reset = 3

    public var description: String {
        switch self {
        case .confirmable: "CON"
        case .nonConfirmable: "NON"
        case .acknowledgement: "ACK"
        case .reset: "RST"
        }
    }
}
