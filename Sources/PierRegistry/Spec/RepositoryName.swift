/// Repository names as the OCI distribution-spec v1.1 allows them: path components of
/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, e.g. `edge/sensor`.
public enum RepositoryName {
    /// The longest name accepted (the spec suggests registries allow at least 255 characters).
    public static let maxLength = 255

    /// Whether `name` is a valid repository name.
    public static func isValid(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= maxLength else { return false }
        return name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy(isValidComponent)
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            var j = i
            switch bytes[i] {
            case UInt8(ascii: "."):
                j += 1
            case UInt8(ascii: "_"):
                j += 1
                if j < bytes.count && bytes[j] == UInt8(ascii: "_") { j += 1 }
            case UInt8(ascii: "-"):
                while j < bytes.count && bytes[j] == UInt8(ascii: "-") { j += 1 }
            default:
                return false
            }
            guard j < bytes.count, isLowerAlnum(bytes[j]) else { return false }
            i = j
        }
        return true
    }

    /// Whether `tag` is a valid tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    public static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func word(_ c: UInt8) -> Bool { isLowerAlnum(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_") }
        guard word(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }
}
