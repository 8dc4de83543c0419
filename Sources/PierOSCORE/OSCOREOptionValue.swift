import PierCoAP

/// The value of the OSCORE option (RFC 8613 §6.1): the compressed COSE header.
///
/// ```
///  0 1 2 3 4 5 6 7 <------------- n bytes -------------->
/// +-+-+-+-+-+-+-+-+--------------------------------------
/// |0 0 0|h|k|  n  |       Partial IV (if any) ...
/// +-+-+-+-+-+-+-+-+--------------------------------------
///  <- 1 byte -> <----- s bytes ------>
/// +------------+----------------------+------------------+
/// | s (if any) | kid context (if any) | kid (if any) ... |
/// +------------+----------------------+------------------+
/// ```
///
/// n is the Partial IV's length (0–5; 6 and 7 are reserved), h says a kid context follows (with
/// its length s), k says the rest is the kid. With every flag clear the value is empty. Decoding
/// is strict: reserved bits or lengths, a truncated field, a Partial IV with a leading zero byte
/// or a flags byte of zero followed by more bytes are errors, so one header has one encoding.
public struct OSCOREOptionValue: Sendable, Hashable, CustomStringConvertible {
    /// The sender sequence number that made the nonce, big-endian in 1 to 5 bytes; nil if absent.
    public var partialIV: [UInt8]?
    public var kidContext: [UInt8]?
    public var kid: [UInt8]?

    public init(partialIV: [UInt8]? = nil, kidContext: [UInt8]? = nil, kid: [UInt8]? = nil) {
        self.partialIV = partialIV
        self.kidContext = kidContext
        self.kid = kid
    }

    /// The shortest Partial IV for a sequence number: 0 is `00`, 256 is `01 00`.
    public static func partialIV(_ sequence: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        var v = sequence
        repeat {
            bytes.insert(UInt8(truncatingIfNeeded: v), at: 0)
            v >>= 8
        } while v != 0
        return bytes
    }

    /// The Partial IV as a number.
    public var sequence: UInt64? { partialIV.map { $0.reduce(0) { $0 << 8 | UInt64($1) } } }

    public func encoded() -> [UInt8] {
        let n = partialIV?.count ?? 0
        var flags = UInt8(n)
        if kidContext != nil { flags |= 0x10 }
        if kid != nil { flags |= 0x08 }
        guard flags != 0 else { return [] }
        var out = [flags] + (partialIV ?? [])
        if let kidContext { out += [UInt8(truncatingIfNeeded: kidContext.count)] + kidContext }
        out += kid ?? []
        return out
    }

    public init(decoding value: [UInt8]) throws(OSCOREError) {
        guard let flags = value.first else { return }  // empty: no Partial IV, no kid
        guard flags & 0xE0 == 0 else { throw .malformedOption("reserved flag bits \(flags >> 5) are set") }
        let n = Int(flags & 0x07)
        guard n <= 5 else { throw .malformedOption("Partial IV length \(n) is reserved (at most 5)") }
        guard flags != 0 else { throw .malformedOption("a flags byte of 0 must be sent as an empty option") }
        var i = 1
        if n > 0 {
            guard value.count >= 1 + n else { throw .malformedOption("the Partial IV needs \(n) bytes but \(value.count - 1) follow") }
            partialIV = Array(value[1..<(1 + n)])
            guard n == 1 || value[1] != 0 else { throw .malformedOption("the Partial IV has a leading zero byte") }
            i += n
        }
        if flags & 0x10 != 0 {
            guard i < value.count else { throw .malformedOption("the kid context flag is set but its length byte is missing") }
            let s = Int(value[i])
            i += 1
            guard value.count - i >= s else { throw .malformedOption("the kid context needs \(s) bytes but \(value.count - i) follow") }
            kidContext = Array(value[i..<(i + s)])
            i += s
        }
        if flags & 0x08 != 0 {
            kid = Array(value[i...])
        } else if i != value.count {
            throw .malformedOption("\(value.count - i) bytes follow the header but the kid flag is clear")
        }
    }

    public var description: String {
        var parts: [String] = []
        if let partialIV { parts.append("piv=\(hex(partialIV))") }
        if let kidContext { parts.append("kidctx=\(hex(kidContext))") }
        if let kid { parts.append("kid=\(hex(kid))") }
        return "OSCORE(\(parts.joined(separator: " ")))"
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "''" : bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
