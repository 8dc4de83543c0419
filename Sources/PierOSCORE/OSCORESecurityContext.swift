import Crypto
import PierCoAP

/// An OSCORE security context (RFC 8613 §3) for AES-CCM-16-64-128 and HKDF-SHA256: the sender
/// and recipient keys and the common IV, derived from the master secret, the master salt, the
/// two sender IDs and the optional ID context.
///
/// ```
/// key = HKDF-SHA256(salt: master salt, ikm: master secret, info, L)
/// info = [ id: bstr, id_context: bstr / nil, alg_aead: 10, type: "Key" / "IV", L: uint ]
/// ```
///
/// with `id` the sender or recipient ID for a key (L = 16) and the empty string for the common
/// IV (L = 13). Values only: sequence numbers and replay windows are kept by their owners.
public struct OSCORESecurityContext: Sendable, Hashable {
    /// COSE algorithm 10, AES-CCM-16-64-128.
    public static let algorithm: Int64 = 10
    /// Sender IDs are at most nonce length − 6 bytes (§3.3).
    public static let maxIDLength = AESCCM16_64_128.nonceLength - 6
    /// Partial IVs are at most 5 bytes: sequence numbers below 2^40 (§7.2.1).
    public static let maxSequence: UInt64 = (1 << 40) - 1

    public let senderID: [UInt8]
    public let recipientID: [UInt8]
    public let idContext: [UInt8]?
    public let senderKey: [UInt8]
    public let recipientKey: [UInt8]
    public let commonIV: [UInt8]

    public init(
        masterSecret: [UInt8], masterSalt: [UInt8] = [], senderID: [UInt8], recipientID: [UInt8], idContext: [UInt8]? = nil
    ) throws(OSCOREError) {
        guard !masterSecret.isEmpty else { throw .invalidContext("the master secret is empty") }
        guard senderID.count <= Self.maxIDLength, recipientID.count <= Self.maxIDLength else {
            throw .invalidContext("sender and recipient IDs are at most \(Self.maxIDLength) bytes")
        }
        guard senderID != recipientID else { throw .invalidContext("the sender and recipient IDs must differ") }
        self.senderID = senderID
        self.recipientID = recipientID
        self.idContext = idContext
        let ikm = SymmetricKey(data: masterSecret)
        func derive(_ id: [UInt8], _ type: String, _ length: Int) -> [UInt8] {
            let info = Self.info(id: id, idContext: idContext, type: type, length: length)
            return HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: masterSalt, info: info, outputByteCount: length)
                .withUnsafeBytes { Array($0) }
        }
        senderKey = derive(senderID, "Key", AESCCM16_64_128.keyLength)
        recipientKey = derive(recipientID, "Key", AESCCM16_64_128.keyLength)
        commonIV = derive([], "IV", AESCCM16_64_128.nonceLength)
    }

    /// The CBOR `info` array of the key derivation (§3.2.1).
    public static func info(id: [UInt8], idContext: [UInt8]?, type: String, length: Int) -> [UInt8] {
        var w = CBORWriter()
        w.arrayHeader(5)
        w.byteString(id)
        if let idContext { w.byteString(idContext) } else { w.null() }
        w.integer(algorithm)
        w.text(type)
        w.unsigned(UInt64(length))
        return w.bytes
    }

    /// The AEAD nonce (§5.2): the ID that made the Partial IV, its length and the Partial IV,
    /// padded and XORed with the common IV.
    ///
    /// ```
    /// | size of ID_PIV (1) | ID_PIV, left-padded (7) | Partial IV, left-padded (5) |  XOR  common IV
    /// ```
    public func nonce(partialIV: [UInt8], idPIV: [UInt8]) -> [UInt8] {
        let n = AESCCM16_64_128.nonceLength
        var nonce = [UInt8(idPIV.count)]
        nonce += [UInt8](repeating: 0, count: n - 6 - idPIV.count) + idPIV
        nonce += [UInt8](repeating: 0, count: 5 - partialIV.count) + partialIV
        for i in 0..<n { nonce[i] ^= commonIV[i] }
        return nonce
    }

    /// The AEAD's additional data (§5.4): `Enc_structure` "Encrypt0" around the external AAD
    /// `[1, [10], request_kid, request_piv, h'']` (no Class I options).
    public static func aad(requestKID: [UInt8], requestPIV: [UInt8]) -> [UInt8] {
        var external = CBORWriter()
        external.arrayHeader(5)
        external.unsigned(1)
        external.arrayHeader(1)
        external.integer(algorithm)
        external.byteString(requestKID)
        external.byteString(requestPIV)
        external.byteString([])
        var w = CBORWriter()
        w.arrayHeader(3)
        w.text("Encrypt0")
        w.byteString([])
        w.byteString(external.bytes)
        return w.bytes
    }

    /// A short, one-way name for this context (the first 8 bytes of SHA-256 over its keys and
    /// IDs, in hex): what the sequence file is keyed by, so a changed key starts afresh and a
    /// renamed client does not.
    public var fingerprint: String {
        var h = SHA256()
        for part in [senderKey, recipientKey, commonIV, senderID, recipientID, idContext ?? []] {
            h.update(data: [UInt8(part.count)] + part)
        }
        return hex(Array(h.finalize().prefix(8)))
    }
}
