/// The token that matches a response to its request: zero to eight opaque bytes (RFC 7252 §5.3.1).
public struct CoAPToken: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The longest token the header can describe.
    public static let maxLength = 8

    public let bytes: [UInt8]

    /// The empty token.
    public static let empty = CoAPToken(unchecked: [])

    /// A token from its bytes; throws if there are more than eight.
    public init(_ bytes: [UInt8]) throws(CoAPEncodingError) {
        guard bytes.count <= Self.maxLength else { throw .tokenTooLong(bytes.count) }
        self.bytes = bytes
    }

    /// An eight-byte token from a 64-bit value, e.g. a random number.
    public init(_ value: UInt64) {
        self.bytes = (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let bytes = try decoder.singleValueContainer().decode([UInt8].self)
        guard bytes.count <= Self.maxLength else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "CoAP token of \(bytes.count) bytes; at most 8 allowed"))
        }
        self.bytes = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(bytes)
    }

    public var description: String {
        bytes.isEmpty ? "<empty>" : bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
