/// A size in bytes as Docker writes it: `512k`, `64m`, `1.5g`, `1048576`, `64MiB`
/// (binary multiples; `b`, `k`, `m`, `g`, `t`, `p`, case-insensitive, optional `i`/`b`).
public struct MemorySize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int64

    /// Docker's smallest memory limit: below it a container cannot even start its runtime.
    public static let minimumLimit = MemorySize(bytes: 6 << 20)

    public init(bytes: Int64) { self.bytes = bytes }

    /// What a size looks like, for errors.
    public static let expected = "expected a size such as 512k, 64m, 1.5g or a number of bytes"

    /// The one size parser of `pier run`, services, compose and the agent: bytes in `text`, or
    /// nil when it is not a size or is 8 EiB or more. Zero is a size (callers that need a
    /// positive one say so).
    public static func parse(_ text: String) -> Int64? {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        var number = Substring(s)
        var unit = ""
        while let last = number.last, last.isLetter {
            unit = String(last) + unit
            number = number.dropLast()
        }
        if number.last == " " { number = number.dropLast() }
        let multipliers: [String: Int64] = [
            "": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
            "p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50,
        ]
        guard let multiplier = multipliers[unit],
            !number.isEmpty, number.count <= 32, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, number.first != ".", number.last != ".",
            let value = Double(number)
        else { return nil }
        let bytes = value * Double(multiplier)
        guard bytes.isFinite, bytes >= 0, bytes < 9.0e18 else { return nil }
        return Int64(bytes)
    }

    /// Parses a positive size; `flag` names the option in the error.
    public init(parsing text: String, flag: String) throws {
        guard let bytes = Self.parse(text), bytes >= 1 else {
            throw ContainerSpecError.invalid(flag: flag, value: String(text.prefix(64)), expected: Self.expected)
        }
        self.bytes = bytes
    }

    public static func < (a: MemorySize, b: MemorySize) -> Bool { a.bytes < b.bytes }

    /// The form `pier run --memory` takes: `64m`, `1g`, `512k`, or bytes when not a whole multiple.
    public var flag: String {
        for (suffix, shift) in [("g", 30), ("m", 20), ("k", 10)] where bytes >= Int64(1) << shift && bytes % (Int64(1) << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    /// Human form: `64MiB`, `1.5GiB`, `512B`.
    public var description: String {
        let units: [(String, Int64)] = [("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        for (name, size) in units where bytes >= size {
            let v = Double(bytes) / Double(size)
            return v == v.rounded() ? "\(Int64(v))\(name)" : "\((v * 100).rounded() / 100)\(name)"
        }
        return "\(bytes)B"
    }
}
