import PierSpec

/// One 512-byte POSIX ustar header (POSIX.1-2001 pax interchange format, `ustar` magic), with a pax
/// extended header in front when a path is too long for ustar's name/prefix split or a size exceeds 8 GiB.
///
/// ```
/// offset  0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]  136 mtime[12]
///       148 chksum[8]  156 typeflag  157 linkname[100]  257 "ustar\0"  263 "00"
///       265 uname[32]  297 gname[32]  329 devmajor[8]  337 devminor[8]  345 prefix[155]
/// ```
struct TarHeader: Sendable, Equatable {
    enum Kind: UInt8, Sendable { case file = 0x30, directory = 0x35, paxExtended = 0x78 }

    var path: String
    var kind: Kind
    var size: Int64
    var mode: UInt32
    var mtime: Int64 = 0

    static let blockSize = 512

    /// The header block(s) for this entry: a pax header and its records first when needed.
    func encoded() -> [UInt8] {
        var name = kind == .directory && !path.hasSuffix("/") ? path + "/" : path
        var prefix = ""
        var pax: [(String, String)] = []
        if name.utf8.count > 100 {
            if let split = Self.split(name) {
                (prefix, name) = split
            } else {
                pax.append(("path", name))
                name = String(decoding: name.utf8.suffix(99), as: UTF8.self)
            }
        }
        let maxOctalSize: Int64 = 0o77777777777
        var sizeField = size
        if size > maxOctalSize {
            pax.append(("size", String(size)))
            sizeField = 0
        }
        var out: [UInt8] = []
        if !pax.isEmpty {
            let records = Self.paxRecords(pax)
            let header = TarHeader(path: "PaxHeaders/" + String(name.suffix(80)), kind: .paxExtended,
                                   size: Int64(records.count), mode: 0o644, mtime: mtime)
            out += header.block(name: header.path, prefix: "", size: Int64(records.count))
            out += records + Self.padding(for: Int64(records.count))
        }
        out += block(name: name, prefix: prefix, size: sizeField)
        return out
    }

    /// Zero bytes that pad `size` content bytes up to a whole block.
    static func padding(for size: Int64) -> [UInt8] {
        let rest = Int(size % Int64(blockSize))
        return rest == 0 ? [] : [UInt8](repeating: 0, count: blockSize - rest)
    }

    /// The bytes an entry takes in the archive: header(s), content and padding.
    var archiveSize: Int64 {
        Int64(encoded().count) + size + Int64(Self.padding(for: size).count)
    }

    /// Two zero blocks end an archive.
    static let endOfArchive = [UInt8](repeating: 0, count: 2 * blockSize)

    private func block(name: String, prefix: String, size: Int64) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: Self.blockSize)
        func put(_ text: String, at offset: Int, width: Int) {
            for (i, byte) in text.utf8.prefix(width).enumerated() { b[offset + i] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            let padded = String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
            put(padded, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        b[156] = kind.rawValue
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        octal(0, at: 329, width: 8)
        octal(0, at: 337, width: 8)
        put(prefix, at: 345, width: 155)
        // The checksum is computed with its own field as eight spaces.
        for i in 148..<156 { b[i] = 0x20 }
        let sum = b.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: max(0, 6 - digits.count)) + digits, at: 148, width: 6)
        b[154] = 0
        b[155] = 0x20
        return b
    }

    /// Splits a long path into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes) at a `/`.
    static func split(_ path: String) -> (prefix: String, name: String)? {
        let bytes = Array(path.utf8)
        for i in stride(from: bytes.count - 1, through: 0, by: -1) where bytes[i] == UInt8(ascii: "/") {
            let prefixCount = i
            let nameCount = bytes.count - i - 1
            if prefixCount <= 155 && nameCount <= 100 && nameCount > 0 {
                return (String(decoding: bytes[..<i], as: UTF8.self), String(decoding: bytes[(i + 1)...], as: UTF8.self))
            }
        }
        return nil
    }

    /// `"<len> key=value\n"` records, where `<len>` counts the whole record including itself.
    static func paxRecords(_ pairs: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in pairs {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count != length { length += 1 }
            out += Array((String(length) + body).utf8)
        }
        return out
    }
}
