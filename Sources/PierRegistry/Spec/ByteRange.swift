/// A single byte range from an HTTP `Range` header (RFC 9110 §14.1.2), resolved against the
/// length of the representation.
public struct ByteRange: Sendable, Hashable {
    /// First byte, inclusive.
    public var first: Int64
    /// Last byte, inclusive.
    public var last: Int64

    public init(first: Int64, last: Int64) { self.first = first; self.last = last }

    /// Bytes in the range.
    public var count: Int64 { last - first + 1 }

    /// What a `Range` header asks of a representation of a given length.
    public enum Resolution: Sendable, Hashable {
        /// No usable range: send the whole representation (no header, several ranges, another
        /// unit or a malformed value, all of which RFC 9110 lets a server ignore).
        case whole
        /// Send these bytes with 206.
        case partial(ByteRange)
        /// Send 416 with `Content-Range: bytes */<length>`.
        case unsatisfiable
    }

    /// Resolves `header` (`bytes=a-b`, `bytes=a-` or `bytes=-n`) against `length` bytes.
    public static func resolve(_ header: String?, length: Int64) -> Resolution {
        guard let header else { return .whole }
        let trimmed = header.trimmingASCIISpaces()
        guard trimmed.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = trimmed.dropFirst("bytes=".count).trimmingASCIISpaces()
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let start = spec[..<dash].trimmingASCIISpaces()
        let end = spec[spec.index(after: dash)...].trimmingASCIISpaces()
        guard start.allSatisfy(\.isASCIIDigit), end.allSatisfy(\.isASCIIDigit) else { return .whole }
        if start.isEmpty {
            // Suffix range: the last n bytes.
            guard let n = Int64(end) else { return .whole }
            guard n > 0, length > 0 else { return .unsatisfiable }
            return .partial(ByteRange(first: max(0, length - n), last: length - 1))
        }
        guard let first = Int64(start) else { return .unsatisfiable }
        var last = length - 1
        if !end.isEmpty {
            // A last byte beyond the end is clamped; one past the first is invalid and ignored.
            guard let requested = Int64(end) else { return .whole }
            guard requested >= first else { return .whole }
            last = min(requested, length - 1)
        }
        guard first < length else { return .unsatisfiable }
        return .partial(ByteRange(first: first, last: last))
    }

    /// `bytes first-last/length`, for `Content-Range`.
    public func contentRange(length: Int64) -> String { "bytes \(first)-\(last)/\(length)" }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingASCIISpaces() -> Substring {
        let s = Substring(self)
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" }
        guard let start = s.firstIndex(where: { !isSpace($0) }), let end = s.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return s[start...end]
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
