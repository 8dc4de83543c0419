/// One option instance: a number and its opaque value (RFC 7252 §3.1, §5.4).
///
/// Values are bytes on the wire; `uint` options use the shortest big-endian form (0 is zero bytes)
/// and `string` options are UTF-8.
public struct CoAPOption: Codable, Sendable, Hashable, CustomStringConvertible {
    public var number: CoAPOptionNumber
    public var value: [UInt8]

    public init(_ number: CoAPOptionNumber, value: [UInt8] = []) {
        self.number = number
        self.value = value
    }

    /// A `uint` option in its minimal length (RFC 7252 §3.2): 0 → no bytes, 255 → one byte.
    public init(_ number: CoAPOptionNumber, uint: UInt32) {
        self.init(number, value: Self.encodeUInt(uint))
    }

    /// A `string` option, UTF-8 encoded.
    public init(_ number: CoAPOptionNumber, string: String) {
        self.init(number, value: Array(string.utf8))
    }

    /// The value read as a `uint`; `nil` if longer than four bytes. Leading zero bytes are tolerated.
    public var uintValue: UInt32? {
        guard value.count <= 4 else { return nil }
        return value.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// The value read as UTF-8; `nil` if not valid UTF-8.
    public var stringValue: String? { String(validating: value, as: UTF8.self) }

    public var description: String {
        if let s = stringValue, [.uriPath, .uriQuery, .uriHost, .locationPath, .locationQuery, .proxyUri, .proxyScheme].contains(number) {
            return "\(number)=\"\(s)\""
        }
        if value.count <= 4, let u = uintValue, number != .eTag, number != .ifMatch { return "\(number)=\(u)" }
        return "\(number)=0x" + value.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// The shortest big-endian encoding of `value`.
    public static func encodeUInt(_ value: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = value
        while v != 0 {
            bytes.insert(UInt8(truncatingIfNeeded: v), at: 0)
            v >>= 8
        }
        return bytes
    }
}
