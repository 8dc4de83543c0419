/// Memory sizes as Compose (go-units `RAMInBytes`) reads them: `64M`, `1g`, `512k`, `1.5GB`,
/// `100MiB`, or a plain number of bytes; binary multiples, case-insensitive.
enum ByteSize {
    static let expected = "expected a size such as 64M, 512k, 1g or a number of bytes"

    /// Bytes, or nil when `text` is not a size or is out of range.
    static func bytes(_ text: String) -> Int64? {
        var s = Substring(text.lowercased())
        if s.hasSuffix("b") { s = s.dropLast() }
        if s.hasSuffix("i") { s = s.dropLast() }
        var multiplier: Double = 1
        if let last = s.last, let index = "kmgtp".firstIndex(of: last) {
            multiplier = Double(Int64(1) << (10 * ("kmgtp".distance(from: "kmgtp".startIndex, to: index) + 1)))
            s = s.dropLast()
        } else if text.lowercased().hasSuffix("ib") || text.lowercased().hasSuffix("i") {
            return nil
        }
        if s.hasSuffix(" ") { s = s.dropLast() }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            s.filter({ $0 == "." }).count <= 1, s.first != ".", s.last != ".", let value = Double(s)
        else { return nil }
        let bytes = value * multiplier
        guard bytes.isFinite, bytes < 9.0e18 else { return nil }
        return Int64(bytes)
    }

    /// The form `pier run --memory` takes: `64m`, `1g`, `512k`, or bytes when not a whole multiple.
    static func flag(_ bytes: Int64) -> String {
        for (suffix, shift) in [("g", 30), ("m", 20), ("k", 10)] where bytes >= Int64(1) << shift && bytes % (Int64(1) << shift) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }
}
