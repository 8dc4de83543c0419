/// A join token: the digest of the cluster CA a node must find at the manager, and the secret
/// that lets it in.
///
/// ```
/// PIERTKN-1-<CA digest>-<secret>
///           │           └ 25 characters of 0-9a-z, random
///           └ SHA-256 of the DER CA certificate as one big-endian number in base 36,
///             zero-padded to 50 characters
/// ```
/// Like Swarm's `SWMTKN-1-…`, the token does not name a role: the manager keeps one token per
/// role and the secret a node presents decides which it gets.
public struct JoinToken: Sendable, Hashable, CustomStringConvertible {
    public static let prefix = "PIERTKN"
    public static let version = 1
    static let digestLength = 50
    static let secretLength = 25

    /// SHA-256 of the CA certificate (32 bytes).
    public let caDigest: [UInt8]
    /// The secret, 25 characters of `0-9a-z`.
    public let secret: String

    /// The CA fingerprint the token pins: SHA-256 of the DER CA certificate, lowercase hex.
    public var caFingerprint: String { Hex.encode(caDigest) }

    /// The token as the user types it.
    public var text: String {
        "\(Self.prefix)-\(Self.version)-\(Base36.encode(caDigest, width: Self.digestLength))-\(secret)"
    }

    /// The token with its secret hidden, for logs.
    public var description: String {
        "\(Self.prefix)-\(Self.version)-\(Base36.encode(caDigest, width: Self.digestLength))-<secret>"
    }

    /// A token for a CA fingerprint (lowercase hex SHA-256) and a secret.
    public init(caFingerprint: String, secret: String) throws {
        guard let digest = Hex.decode(caFingerprint), digest.count == 32 else {
            throw PKIError.badToken("CA fingerprint \"\(caFingerprint)\" is not 64 hex digits of SHA-256")
        }
        guard Self.isValidSecret(secret) else {
            throw PKIError.badToken("the secret must be \(Self.secretLength) characters of 0-9a-z")
        }
        self.caDigest = digest
        self.secret = secret
    }

    /// A new token with a random secret for the CA with this fingerprint.
    public static func generate(caFingerprint: String) throws -> JoinToken {
        try JoinToken(caFingerprint: caFingerprint, secret: RandomID.make(length: secretLength))
    }

    /// Parses a token, saying which part is wrong if it is not one.
    public static func parse(_ text: String) throws -> JoinToken {
        let parts = text.trimmingWhitespace().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == prefix else {
            throw PKIError.badToken("it must start with \"\(prefix)-\" and have four parts separated by '-'")
        }
        guard parts[1] == "\(version)" else {
            throw PKIError.badToken("version \"\(parts[1])\" is not supported; this Pier reads version \(version)")
        }
        guard parts[2].utf8.count == digestLength else {
            throw PKIError.badToken("the CA digest has \(parts[2].utf8.count) characters, expected \(digestLength)")
        }
        guard let digest = Base36.decode(String(parts[2]), byteCount: 32) else {
            throw PKIError.badToken("the CA digest is not a base-36 SHA-256 value")
        }
        let secret = String(parts[3])
        guard isValidSecret(secret) else {
            throw PKIError.badToken("the secret must be \(secretLength) characters of 0-9a-z")
        }
        return try JoinToken(caFingerprint: Hex.encode(digest), secret: secret)
    }

    /// Compares the secrets in constant time (for secrets of equal length), so the time a
    /// refusal takes tells an attacker nothing about how much of a guess was right.
    public func secretMatches(_ other: JoinToken) -> Bool {
        let a = Array(secret.utf8)
        let b = Array(other.secret.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }

    /// Whether the token pins the CA with this fingerprint (lowercase or uppercase hex).
    public func pins(caFingerprint: String) -> Bool {
        Hex.decode(caFingerprint) == caDigest
    }

    static func isValidSecret(_ secret: String) -> Bool {
        secret.utf8.count == secretLength && secret.utf8.allSatisfy { RandomID.alphabet.contains($0) }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace }
        return String(self.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}

/// Big-endian byte strings as base-36 numbers (`0-9a-z`).
enum Base36 {
    static func encode(_ bytes: [UInt8], width: Int) -> String {
        var number = bytes
        var digits: [UInt8] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder = 0
            for i in number.indices {
                let value = remainder << 8 | Int(number[i])
                number[i] = UInt8(value / 36)
                remainder = value % 36
            }
            digits.append(RandomID.alphabet[remainder])
        }
        while digits.count < width { digits.append(UInt8(ascii: "0")) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }

    /// Decodes into exactly `byteCount` big-endian bytes, or nil if a character is not base 36
    /// or the value does not fit.
    static func decode(_ text: String, byteCount: Int) -> [UInt8]? {
        var number = [UInt8](repeating: 0, count: byteCount)
        for c in text.utf8 {
            guard let digit = RandomID.alphabet.firstIndex(of: c) else { return nil }
            var carry = digit
            for i in number.indices.reversed() {
                let value = Int(number[i]) * 36 + carry
                number[i] = UInt8(value & 0xff)
                carry = value >> 8
            }
            guard carry == 0 else { return nil }
        }
        return number
    }
}
