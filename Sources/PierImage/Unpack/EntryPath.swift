/// A path inside a layer, split into components as bytes (tar names need not be UTF-8).
struct EntryPath: Hashable {
    var components: [[UInt8]]

    var isRoot: Bool { components.isEmpty }
    var name: [UInt8] { components.last ?? [] }
    var parent: EntryPath { EntryPath(components: Array(components.dropLast())) }

    /// A readable form for error messages.
    var display: String { components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/") }

    /// Parses a tar entry name: leading `./` and empty or `.` components are dropped; `..` and
    /// absolute names are refused.
    static func parse(_ raw: [UInt8]) throws(UnpackError.Refusal) -> EntryPath {
        guard raw.first != UInt8(ascii: "/") else { throw .absolutePath }
        var components: [[UInt8]] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.count == 1 && part[part.startIndex] == UInt8(ascii: ".") { continue }
            if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) { throw .parentReference }
            components.append(Array(part))
        }
        return EntryPath(components: components)
    }

    /// Whether the relative symlink target, seen from this entry's directory, stays inside the root.
    func symlinkTargetStaysInside(_ target: [UInt8]) -> Bool {
        if target.first == UInt8(ascii: "/") { return true }
        var depth = components.count - 1
        for part in target.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.count == 1 && part[part.startIndex] == UInt8(ascii: ".") { continue }
            if part.count == 2 && part.allSatisfy({ $0 == UInt8(ascii: ".") }) {
                depth -= 1
                if depth < 0 { return false }
            } else {
                depth += 1
            }
        }
        return true
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with the bytes as a NUL-terminated C string.
    func withCString<R, E: Error>(_ body: (UnsafePointer<CChar>) throws(E) -> R) throws(E) -> R {
        var copy = self.map { CChar(bitPattern: $0) }
        copy.append(0)
        return try copy.withUnsafeBufferPointer { (buffer) throws(E) -> R in
            // Never nil: the array holds at least the terminating NUL.
            try body(buffer.baseAddress!)
        }
    }
}
