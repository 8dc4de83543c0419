/// A CoAP message (RFC 7252 §3).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Ver| T |  TKL  |      Code     |          Message ID           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Token (if any, TKL bytes) ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Options (if any) ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |1 1 1 1 1 1 1 1|    Payload (if any) ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Each option (§3.1), numbers as deltas from the previous one, ascending:
///
///   0   1   2   3   4   5   6   7
/// +---------------+---------------+
/// | Option Delta  | Option Length |   nibbles 0-12 literal,
/// +---------------+---------------+   13: one extra byte, value - 13
/// /   Option Delta (extended)     /   14: two extra bytes, value - 269
/// /   Option Length (extended)    /   15: reserved (0xFF is the payload marker)
/// \   Option Value (Length bytes) \
/// +-------------------------------+
/// ```
///
/// Ver is always 1. Options are kept in the order given; encoding sorts them by number (stable,
/// so repeated options keep their order), and decoding yields them sorted.
public struct CoAPMessage: Codable, Sendable, Hashable, CustomStringConvertible {
    public var type: CoAPMessageType
    public var code: CoAPCode
    public var messageID: UInt16
    public var token: CoAPToken
    public var options: [CoAPOption]
    public var payload: [UInt8]

    public init(
        type: CoAPMessageType, code: CoAPCode, messageID: UInt16, token: CoAPToken = .empty,
        options: [CoAPOption] = [], payload: [UInt8] = []
    ) {
        self.type = type
        self.code = code
        self.messageID = messageID
        self.token = token
        self.options = options
        self.payload = payload
    }

    /// An empty message of the given type: a ping (CON), an empty ACK or a Reset.
    public static func empty(_ type: CoAPMessageType, messageID: UInt16) -> CoAPMessage {
        CoAPMessage(type: type, code: .empty, messageID: messageID)
    }

    /// Whether this is an empty message (code 0.00).
    public var isEmpty: Bool { code.isEmpty }

    public var description: String {
        var s = "\(type) \(code) mid=\(messageID) token=\(token)"
        if !options.isEmpty { s += " " + options.map(\.description).joined(separator: " ") }
        if !payload.isEmpty { s += " payload=\(payload.count)B" }
        return s
    }
}
