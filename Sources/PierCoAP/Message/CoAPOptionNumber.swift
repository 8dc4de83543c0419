/// An option number from the CoAP Option Numbers registry (RFC 7252 §5.10, §12.2; RFC 7641, 7959,
/// 8613, 9175).
///
/// The number's low bits carry its properties (§5.4.6): odd numbers are critical, bit 1 marks an
/// option unsafe to forward, and `number & 0x1E == 0x1C` marks it NoCacheKey.
public struct CoAPOptionNumber: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// A critical option must be understood; an unrecognised one makes a request fail with 4.02.
    public var isCritical: Bool { rawValue & 0x01 != 0 }
    /// An elective option may be ignored when unrecognised.
    public var isElective: Bool { !isCritical }
    /// A proxy that does not know an unsafe option must not forward the message.
    public var isUnsafe: Bool { rawValue & 0x02 != 0 }
    /// A NoCacheKey option is not part of the cache key (only meaningful for safe options).
    public var isNoCacheKey: Bool { rawValue & 0x1E == 0x1C }

    /// Whether this number is one of the registry entries this library knows.
    public var isKnown: Bool { Self.known[self] != nil }

    public var description: String { Self.known[self].map { "\($0)(\(rawValue))" } ?? "Option(\(rawValue))" }

    public static let ifMatch = Self(1)
    public static let uriHost = Self(3)
    public static let eTag = Self(4)
    public static let ifNoneMatch = Self(5)
    public static let observe = Self(6)
    public static let uriPort = Self(7)
    public static let locationPath = Self(8)
    /// OSCORE (RFC 8613 §2): known only to an endpoint with object security configured, so one
    /// without it refuses a protected request (4.02) instead of serving it unprotected.
    public static let oscore = Self(9)
    public static let uriPath = Self(11)
    public static let contentFormat = Self(12)
    public static let maxAge = Self(14)
    public static let uriQuery = Self(15)
    public static let accept = Self(17)
    public static let locationQuery = Self(20)
    public static let block2 = Self(23)
    public static let block1 = Self(27)
    public static let size2 = Self(28)
    public static let proxyUri = Self(35)
    public static let proxyScheme = Self(39)
    public static let size1 = Self(60)
    public static let echo = Self(252)
    public static let noResponse = Self(258)
    public static let requestTag = Self(292)

    private static let known: [CoAPOptionNumber: String] = [
        .ifMatch: "If-Match", .uriHost: "Uri-Host", .eTag: "ETag", .ifNoneMatch: "If-None-Match",
        .observe: "Observe", .uriPort: "Uri-Port", .locationPath: "Location-Path", .uriPath: "Uri-Path",
        .contentFormat: "Content-Format", .maxAge: "Max-Age", .uriQuery: "Uri-Query", .accept: "Accept",
        .locationQuery: "Location-Query", .block2: "Block2", .block1: "Block1", .size2: "Size2",
        .proxyUri: "Proxy-Uri", .proxyScheme: "Proxy-Scheme", .size1: "Size1",
    ]
}
