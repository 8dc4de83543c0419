import Foundation

/// A small CBOR (RFC 8949) reader for activation bodies sent with Content-Format 60: maps with
/// text keys, arrays, text strings, integers, floats, booleans and null, turned into the same
/// objects `JSONSerialization` gives, so one parser checks both. Byte strings, tags and
/// indefinite lengths are refused with an error naming them; nesting is limited.
enum CBORBody {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func object(_ bytes: [UInt8]) throws(Failure) -> Any {
        var reader = Reader(bytes: bytes)
        let value = try reader.item(depth: 0)
        guard reader.offset == bytes.count else { throw Failure(description: "\(bytes.count - reader.offset) bytes after the CBOR item") }
        return value
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0
        static let maxDepth = 16

        mutating func byte() throws(Failure) -> UInt8 {
            guard offset < bytes.count else { throw Failure(description: "CBOR ends in the middle of an item") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func uint(_ count: Int) throws(Failure) -> UInt64 {
            var v: UInt64 = 0
            for _ in 0..<count { v = v << 8 | UInt64(try byte()) }
            return v
        }

        /// The argument of an initial byte: the value for small types, the length for strings and containers.
        mutating func argument(_ info: UInt8) throws(Failure) -> UInt64 {
            switch info {
            case 0..<24: return UInt64(info)
            case 24: return try uint(1)
            case 25: return try uint(2)
            case 26: return try uint(4)
            case 27: return try uint(8)
            case 31: throw Failure(description: "indefinite-length CBOR items are not supported; use definite lengths")
            default: throw Failure(description: "malformed CBOR (additional information \(info))")
            }
        }

        mutating func length(_ info: UInt8) throws(Failure) -> Int {
            let n = try argument(info)
            guard n <= UInt64(bytes.count - offset) else { throw Failure(description: "a CBOR length of \(n) exceeds the body") }
            return Int(n)
        }

        mutating func item(depth: Int) throws(Failure) -> Any {
            guard depth < Self.maxDepth else { throw Failure(description: "CBOR nested deeper than \(Self.maxDepth)") }
            let initial = try byte()
            let major = initial >> 5, info = initial & 0x1f
            switch major {
            case 0:
                let v = try argument(info)
                guard v <= UInt64(Int.max) else { throw Failure(description: "CBOR integer \(v) is too large") }
                return Int(v)
            case 1:
                let v = try argument(info)
                guard v < UInt64(Int.max) else { throw Failure(description: "CBOR integer -1-\(v) is too small") }
                return -1 - Int(v)
            case 2:
                throw Failure(description: "CBOR byte strings are not accepted; send text")
            case 3:
                let n = try length(info)
                defer { offset += n }
                guard let s = String(validating: bytes[offset..<offset + n], as: UTF8.self) else {
                    throw Failure(description: "a CBOR text string is not valid UTF-8")
                }
                return s
            case 4:
                let n = try length(info)
                var out: [Any] = []
                for _ in 0..<n { out.append(try item(depth: depth + 1)) }
                return out
            case 5:
                let n = try length(info)
                var out: [String: Any] = [:]
                for _ in 0..<n {
                    guard let key = try item(depth: depth + 1) as? String else { throw Failure(description: "CBOR map keys must be text") }
                    guard out[key] == nil else { throw Failure(description: "CBOR map repeats the key \(key)") }
                    out[key] = try item(depth: depth + 1)
                }
                return out
            case 6:
                throw Failure(description: "CBOR tags are not accepted")
            default:
                switch info {
                case 20: return false
                case 21: return true
                case 22: return NSNull()
                case 25: return Double(Float16(bitPattern: UInt16(try uint(2))))
                case 26: return Double(Float(bitPattern: UInt32(try uint(4))))
                case 27: return Double(bitPattern: try uint(8))
                default: throw Failure(description: "CBOR simple value \(info) is not accepted")
                }
            }
        }
    }
}
