/// A request method or response code, `class.detail` in one byte (RFC 7252 §3, §12.1).
///
/// The class is the top three bits (0 request, 2 success, 4 client error, 5 server error), the
/// detail the low five; `2.05` is `CoAPCode(2, 5)`, rawValue 69.
public struct CoAPCode: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A code from its class (0…7) and detail (0…31); out-of-range bits are masked off.
    public init(_ codeClass: UInt8, _ detail: UInt8) {
        self.rawValue = (codeClass & 0x07) << 5 | (detail & 0x1F)
    }

    /// The class: 0 request, 2 success, 4 client error, 5 server error.
    public var codeClass: UInt8 { rawValue >> 5 }
    /// The detail within the class.
    public var detail: UInt8 { rawValue & 0x1F }

    /// `0.00`, the code of an empty message (ping, empty ACK, RST).
    public var isEmpty: Bool { rawValue == 0 }
    /// A request method (class 0, not empty).
    public var isRequest: Bool { codeClass == 0 && detail != 0 }
    /// A response (class 2, 4 or 5).
    public var isResponse: Bool { codeClass == 2 || codeClass == 4 || codeClass == 5 }
    /// A success response (class 2).
    public var isSuccess: Bool { codeClass == 2 }

    public var description: String {
        let d = detail < 10 ? "0\(detail)" : "\(detail)"
        return "\(codeClass).\(d)"
    }

    // Methods (§12.1.1)
    public static let empty = CoAPCode(0, 0)
    public static let get = CoAPCode(0, 1)
    public static let post = CoAPCode(0, 2)
    public static let put = CoAPCode(0, 3)
    public static let delete = CoAPCode(0, 4)
    /// FETCH (RFC 8132): the outer method of an OSCORE-protected observation (RFC 8613 §4.2).
    public static let fetch = CoAPCode(0, 5)

    // Success (§12.1.2, RFC 7959 §2.9.1)
    public static let created = CoAPCode(2, 1)
    public static let deleted = CoAPCode(2, 2)
    public static let valid = CoAPCode(2, 3)
    public static let changed = CoAPCode(2, 4)
    public static let content = CoAPCode(2, 5)
    public static let `continue` = CoAPCode(2, 31)

    // Client errors
    public static let badRequest = CoAPCode(4, 0)
    public static let unauthorized = CoAPCode(4, 1)
    public static let badOption = CoAPCode(4, 2)
    public static let forbidden = CoAPCode(4, 3)
    public static let notFound = CoAPCode(4, 4)
    public static let methodNotAllowed = CoAPCode(4, 5)
    public static let notAcceptable = CoAPCode(4, 6)
    public static let requestEntityIncomplete = CoAPCode(4, 8)
    public static let preconditionFailed = CoAPCode(4, 12)
    public static let requestEntityTooLarge = CoAPCode(4, 13)
    public static let unsupportedContentFormat = CoAPCode(4, 15)

    // Server errors
    public static let internalServerError = CoAPCode(5, 0)
    public static let notImplemented = CoAPCode(5, 1)
    public static let badGateway = CoAPCode(5, 2)
    public static let serviceUnavailable = CoAPCode(5, 3)
    public static let gatewayTimeout = CoAPCode(5, 4)
    public static let proxyingNotSupported = CoAPCode(5, 5)
}
