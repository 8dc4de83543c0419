import Foundation

/// A content digest as the OCI image-spec v1.1 defines it (`algorithm:encoded`), restricted to
/// `sha256` with 64 lowercase hex characters: the only algorithm Pier accepts.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The algorithm name; always `sha256`.
    public let algorithm: String
    /// The lowercase hex encoding of the hash.
    public let encoded: String

    /// The only supported algorithm.
    public static let sha256Algorithm = "sha256"

    /// Parses and validates `sha256:<64 lowercase hex>`; anything else throws `DigestError`.
    public init(parsing string: String) throws(DigestError) {
        guard let colon = string.firstIndex(of: ":") else { throw .missingAlgorithm(string) }
        let algorithm = String(string[..<colon])
        let encoded = String(string[string.index(after: colon)...])
        guard algorithm == Self.sha256Algorithm else { throw .unsupportedAlgorithm(algorithm, in: string) }
        try self.init(sha256Hex: encoded)
    }

    /// A sha256 digest from its 64-character lowercase hex encoding.
    public init(sha256Hex hex: String) throws(DigestError) {
        guard Self.isSHA256Hex(hex) else { throw .invalidEncoding("sha256:" + hex) }
        self.algorithm = Self.sha256Algorithm
        self.encoded = hex
    }

    /// For hex produced by a hash function, valid by construction.
    init(uncheckedSHA256Hex hex: String) {
        self.algorithm = Self.sha256Algorithm
        self.encoded = hex
    }

    /// Whether `hex` is exactly 64 lowercase hexadecimal characters.
    public static func isSHA256Hex(_ hex: String) -> Bool {
        let utf8 = hex.utf8
        return utf8.count == 64 && utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The digest of `data`.
    public static func sha256<D: DataProtocol>(of data: D) -> Digest {
        var hasher = DigestHasher()
        hasher.update(data)
        return hasher.finalize()
    }

    /// `sha256:<hex>`.
    public var description: String { "\(algorithm):\(encoded)" }

    /// A short form for display: the first 12 hex characters.
    public var shortHex: String { String(encoded.prefix(12)) }

    public static func < (lhs: Digest, rhs: Digest) -> Bool { lhs.description < rhs.description }
}

extension Digest: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do {
            try self.init(parsing: string)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
