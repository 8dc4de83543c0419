import Crypto
import _CryptoExtras

/// AES-CCM-16-64-128 (COSE algorithm 10, RFC 9053 §4.2), OSCORE's mandatory AEAD: CCM (RFC 3610)
/// with a 128-bit key, a 13-byte nonce (so L = 2: messages under 64 KiB) and an 8-byte tag.
///
/// swift-crypto has no CCM mode, so it is built here on the AES block function: a CBC-MAC over
///
/// ```
/// B0 = flags | nonce | l(m)          flags = 0x40 if there is AAD | (M-2)/2 << 3 | L-1
/// B1… = l(a) | a, zero-padded to 16  l(a): 2 bytes below 0xFF00, else 0xFFFE + 4 bytes
/// …   = m, zero-padded to 16
/// ```
///
/// encrypted with the counter blocks `Ai = L-1 | nonce | i`: the message with A1, A2, …, and the
/// MAC's first 8 bytes with A0. Opening compares the tag in constant time.
public enum AESCCM16_64_128 {
    public static let keyLength = 16
    public static let nonceLength = 13
    public static let tagLength = 8
    /// L = 2: the message length fits two bytes.
    public static let maxMessageLength = 0xFFFF

    /// Why sealing was refused (opening only fails authentication, reported as `nil`).
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case keyLength(Int)
        case nonceLength(Int)
        case messageTooLong(Int)

        public var description: String {
            switch self {
            case .keyLength(let n): "AES-CCM-16-64-128 needs a 16-byte key, not \(n) bytes"
            case .nonceLength(let n): "AES-CCM-16-64-128 needs a 13-byte nonce, not \(n) bytes"
            case .messageTooLong(let n): "AES-CCM-16-64-128 seals at most 65535 bytes, not \(n)"
            }
        }
    }

    /// Encrypts and authenticates `plaintext` with `aad`: the ciphertext followed by the 8-byte tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) throws(Failure) -> [UInt8] {
        try check(key: key, nonce: nonce, length: plaintext.count)
        let k = SymmetricKey(data: key)
        let mac = cbcMAC(plaintext, key: k, nonce: nonce, aad: aad)
        var out = ctr(plaintext, key: k, nonce: nonce)
        let s0 = block(counter: 0, nonce: nonce, key: k)
        for i in 0..<tagLength { out.append(mac[i] ^ s0[i]) }
        return out
    }

    /// Verifies and decrypts ciphertext-and-tag; `nil` if it was not sealed with this key, nonce and AAD.
    public static func open(_ sealed: [UInt8], key: [UInt8], nonce: [UInt8], aad: [UInt8]) -> [UInt8]? {
        guard sealed.count >= tagLength, (try? check(key: key, nonce: nonce, length: sealed.count - tagLength)) != nil else { return nil }
        let k = SymmetricKey(data: key)
        let ciphertext = Array(sealed[..<(sealed.count - tagLength)])
        let plaintext = ctr(ciphertext, key: k, nonce: nonce)
        let mac = cbcMAC(plaintext, key: k, nonce: nonce, aad: aad)
        let s0 = block(counter: 0, nonce: nonce, key: k)
        var difference: UInt8 = 0
        for i in 0..<tagLength { difference |= (mac[i] ^ s0[i]) ^ sealed[ciphertext.count + i] }
        return difference == 0 ? plaintext : nil
    }

    private static func check(key: [UInt8], nonce: [UInt8], length: Int) throws(Failure) {
        guard key.count == keyLength else { throw .keyLength(key.count) }
        guard nonce.count == nonceLength else { throw .nonceLength(nonce.count) }
        guard length <= maxMessageLength else { throw .messageTooLong(length) }
    }

    /// E(K, block); the key and the block have the right sizes by construction.
    private static func encrypt(_ block: inout [UInt8], key: SymmetricKey) {
        try? AES.permute(&block, key: key)
    }

    /// Ai = flags (L-1) | nonce | i.
    private static func block(counter: Int, nonce: [UInt8], key: SymmetricKey) -> [UInt8] {
        var a = [0x01] + nonce + [UInt8(truncatingIfNeeded: counter >> 8), UInt8(truncatingIfNeeded: counter)]
        encrypt(&a, key: key)
        return a
    }

    private static func ctr(_ input: [UInt8], key: SymmetricKey, nonce: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(input.count + tagLength)
        var offset = 0
        var counter = 1
        while offset < input.count {
            let s = block(counter: counter, nonce: nonce, key: key)
            let end = min(offset + 16, input.count)
            for i in offset..<end { out.append(input[i] ^ s[i - offset]) }
            offset = end
            counter += 1
        }
        return out
    }

    private static func cbcMAC(_ message: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8]) -> [UInt8] {
        let flags: UInt8 = (aad.isEmpty ? 0 : 0x40) | UInt8((tagLength - 2) / 2) << 3 | 0x01
        var x = [flags] + nonce + [UInt8(truncatingIfNeeded: message.count >> 8), UInt8(truncatingIfNeeded: message.count)]
        encrypt(&x, key: key)
        var input: [UInt8] = []
        if !aad.isEmpty {
            let n = aad.count
            if n < 0xFF00 {
                input = [UInt8(n >> 8), UInt8(n & 0xFF)]
            } else {
                input = [0xFF, 0xFE] + (0..<4).map { UInt8(truncatingIfNeeded: n >> (24 - 8 * $0)) }
            }
            input += aad
            input += [UInt8](repeating: 0, count: (16 - input.count % 16) % 16)
        }
        input += message
        input += [UInt8](repeating: 0, count: (16 - message.count % 16) % 16)
        var offset = 0
        while offset < input.count {
            for i in 0..<16 { x[i] ^= input[offset + i] }
            encrypt(&x, key: key)
            offset += 16
        }
        return x
    }
}
