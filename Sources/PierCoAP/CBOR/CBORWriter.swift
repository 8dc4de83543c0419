/// Writes CBOR (RFC 8949) items in their preferred (shortest) serialization: what OSCORE's
/// key-derivation `info` and AEAD `Enc_structure` need, and CBOR bodies for clients.
///
/// ```
///  initial byte: | major type (3 bits) | additional information (5 bits) |
///  additional information 0-23: the argument itself; 24, 25, 26, 27: it follows in 1, 2, 4, 8 bytes
/// ```
///
/// Only definite lengths. Reading is `CBORBody` in PierCoAPAPI (activation bodies).
public struct CBORWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// An unsigned integer (major type 0).
    public mutating func unsigned(_ value: UInt64) { head(0, value) }

    /// A signed integer: major type 0 when non-negative, 1 (−1 − n) when negative.
    public mutating func integer(_ value: Int64) {
        if value >= 0 { head(0, UInt64(value)) } else { head(1, UInt64(-1 - value)) }
    }

    /// A byte string (major type 2).
    public mutating func byteString(_ value: [UInt8]) {
        head(2, UInt64(value.count))
        bytes += value
    }

    /// A UTF-8 text string (major type 3).
    public mutating func text(_ value: String) {
        let utf8 = Array(value.utf8)
        head(3, UInt64(utf8.count))
        bytes += utf8
    }

    /// The head of an array of `count` items (major type 4); the items follow.
    public mutating func arrayHeader(_ count: Int) { head(4, UInt64(count)) }

    /// The head of a map of `count` pairs (major type 5); keys and values follow, alternating.
    public mutating func mapHeader(_ count: Int) { head(5, UInt64(count)) }

    /// `null` (simple value 22).
    public mutating func null() { bytes.append(0xF6) }

    /// `true` or `false` (simple values 21, 20).
    public mutating func bool(_ value: Bool) { bytes.append(value ? 0xF5 : 0xF4) }

    private mutating func head(_ major: UInt8, _ argument: UInt64) {
        let m = major << 5
        switch argument {
        case 0..<24: bytes.append(m | UInt8(argument))
        case 24...0xFF: bytes += [m | 24, UInt8(argument)]
        case 0x100...0xFFFF: bytes += [m | 25] + Self.bigEndian(argument, 2)
        case 0x1_0000...0xFFFF_FFFF: bytes += [m | 26] + Self.bigEndian(argument, 4)
        default: bytes += [m | 27] + Self.bigEndian(argument, 8)
        }
    }

    private static func bigEndian(_ value: UInt64, _ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * (count - 1 - $0))) }
    }
}
