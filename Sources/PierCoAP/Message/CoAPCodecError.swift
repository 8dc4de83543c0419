/// Why a datagram is not a well-formed CoAP message (RFC 7252 §3, §4.2, §5.4).
///
/// Each case is a "message format error": a confirmable message that fails this way is rejected
/// with a Reset, anything else is silently dropped.
public enum CoAPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fewer than the four header bytes.
    case truncatedHeader(length: Int)
    /// The Ver field is not 1.
    case unsupportedVersion(UInt8)
    /// TKL 9–15 is reserved.
    case invalidTokenLength(UInt8)
    /// The header announces a longer token than the datagram holds.
    case truncatedToken(expected: Int, available: Int)
    /// An empty message (code 0.00) carrying a token, options or payload (§4.1).
    case nonEmptyEmptyMessage
    /// Option delta nibble 15 in a byte that is not the payload marker 0xFF.
    case reservedOptionDelta(offset: Int)
    /// Option length nibble 15 is reserved.
    case reservedOptionLength(offset: Int)
    /// The delta takes the option number beyond 65535.
    case optionNumberOverflow(Int)
    /// An option's extended delta/length or value runs past the end of the datagram.
    case truncatedOption(number: Int, needed: Int, available: Int)
    /// The payload marker 0xFF is followed by no payload.
    case payloadMarkerWithoutPayload

    public var description: String {
        switch self {
        case .truncatedHeader(let n):
            "CoAP datagram of \(n) bytes is shorter than the 4-byte header; dropping it"
        case .unsupportedVersion(let v):
            "CoAP header has version \(v); only version 1 (RFC 7252) is understood"
        case .invalidTokenLength(let l):
            "CoAP header has token length \(l); lengths 9-15 are reserved (message format error)"
        case .truncatedToken(let e, let a):
            "CoAP token of \(e) bytes announced but only \(a) bytes follow the header"
        case .nonEmptyEmptyMessage:
            "CoAP empty message (code 0.00) carries a token, options or payload (message format error)"
        case .reservedOptionDelta(let o):
            "CoAP option at byte \(o) has the reserved delta 15 without being the payload marker"
        case .reservedOptionLength(let o):
            "CoAP option at byte \(o) has the reserved length 15"
        case .optionNumberOverflow(let n):
            "CoAP option number \(n) overflows the 16-bit option space"
        case .truncatedOption(let n, let need, let have):
            "CoAP option \(n) needs \(need) more bytes but only \(have) remain in the datagram"
        case .payloadMarkerWithoutPayload:
            "CoAP payload marker 0xFF is followed by no payload (message format error)"
        }
    }
}

/// Why a `CoAPMessage` cannot be put on the wire.
public enum CoAPEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Tokens are at most eight bytes.
    case tokenTooLong(Int)
    /// An option value is longer than the 65804 bytes the extended length can express.
    case optionValueTooLong(number: UInt16, length: Int)
    /// An empty message (code 0.00) may carry no token, options or payload.
    case nonEmptyEmptyMessage

    public var description: String {
        switch self {
        case .tokenTooLong(let n):
            "CoAP token of \(n) bytes is too long; use at most 8 bytes"
        case .optionValueTooLong(let n, let l):
            "CoAP option \(n) has a \(l)-byte value; at most 65804 bytes fit, send large bodies block-wise"
        case .nonEmptyEmptyMessage:
            "CoAP empty message (code 0.00) must not carry a token, options or payload; use a request or response code"
        }
    }
}
