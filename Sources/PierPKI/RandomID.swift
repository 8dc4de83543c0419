/// Random identifiers and secrets in lowercase base 36, as Swarm's node ids and token secrets.
public enum RandomID {
    static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz".utf8)

    /// A uniformly random string of `length` characters from `0-9a-z`.
    public static func make(length: Int = 25) -> String {
        var generator = SystemRandomNumberGenerator()
        var out = [UInt8]()
        out.reserveCapacity(length)
        for _ in 0..<length {
            out.append(alphabet[Int(generator.next(upperBound: UInt8(alphabet.count)))])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `name` may be a node id or DNS name in a certificate: 1–64 of `a-zA-Z0-9._-`.
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }
}
