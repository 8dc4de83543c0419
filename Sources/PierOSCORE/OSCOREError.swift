import PierCoAP

/// Why OSCORE refused a message (RFC 8613 §8), and the unprotected error a server answers with.
public enum OSCOREError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The OSCORE option's value does not decode (§6.1): 4.02 Bad Option.
    case malformedOption(String)
    /// A request without a kid, or a Partial IV where one is required (§8.2 step 2): 4.02.
    case missingField(String)
    /// No security context for this kid and kid context (§8.2 step 2): 4.01.
    case contextNotFound(kid: [UInt8], kidContext: [UInt8]?)
    /// The sequence number was seen before or is too old for the window (§7.4): 4.01.
    case replay(sequence: UInt64)
    /// The AEAD tag does not verify: altered, or sealed with another key (§8.2 step 6): 4.00.
    case decryptionFailed
    /// The decrypted plaintext is not a code, options and payload (§5.3): 4.00.
    case malformedPlaintext(String)
    /// Outer options OSCORE cannot process here, e.g. outer block-wise transfer: 4.02.
    case unsupportedOuterOption(String)
    /// An OSCORE request must be POST or FETCH (§4.2): 4.05.
    case outerMethod(CoAPCode)
    /// The sender sequence number is exhausted (2^40 − 1) or could not be reserved on disk.
    case sequenceUnavailable(String)
    /// A security context's parameters are unusable.
    case invalidContext(String)

    public var description: String {
        switch self {
        case .malformedOption(let why): "Failed to decode COSE: the OSCORE option is malformed: \(why)"
        case .missingField(let why): "Failed to decode COSE: \(why)"
        case .contextNotFound(let kid, let ctx):
            "Security context not found (kid \(hex(kid))\(ctx.map { ", kid context \(hex($0))" } ?? ""))"
        case .replay(let n): "Replay detected (sequence number \(n))"
        case .decryptionFailed: "Decryption failed"
        case .malformedPlaintext(let why): "Decryption failed: the plaintext is malformed: \(why)"
        case .unsupportedOuterOption(let why): "Failed to decode COSE: \(why)"
        case .outerMethod(let code): "OSCORE requests use POST or FETCH, not \(code)"
        case .sequenceUnavailable(let why): "OSCORE sender sequence number unavailable: \(why)"
        case .invalidContext(let why): "OSCORE security context: \(why)"
        }
    }

    /// The response code §8.2 gives for a request that failed this way.
    public var responseCode: CoAPCode {
        switch self {
        case .malformedOption, .missingField, .unsupportedOuterOption: .badOption
        case .contextNotFound, .replay: .unauthorized
        case .decryptionFailed, .malformedPlaintext: .badRequest
        case .outerMethod: .methodNotAllowed
        case .sequenceUnavailable, .invalidContext: .serviceUnavailable
        }
    }

    /// The unprotected error response: diagnostic payload and Outer Max-Age 0 (§8.2), so no
    /// cache keeps it.
    public var response: CoAPResponse {
        CoAPResponse(code: responseCode, diagnostic: description, options: [CoAPOption(.maxAge, uint: 0)])
    }
}
