import Foundation

/// Sizes as Docker prints and reads them (github.com/docker/go-units).
public enum ByteSize {
    /// Decimal units with three significant digits, as `docker images`: `12.3MB`, `456kB`, `980B`.
    public static func human<T: BinaryInteger>(_ bytes: T) -> String {
        format(Double(bytes), base: 1000, units: ["B", "kB", "MB", "GB", "TB", "PB", "EB"], precision: 3)
    }

    /// Binary units with four significant digits, as `docker stats`: `1.5MiB`, `1.944GiB`.
    public static func binary<T: BinaryInteger>(_ bytes: T) -> String {
        format(Double(bytes), base: 1024, units: ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], precision: 4)
    }

    private static func format(_ value: Double, base: Double, units: [String], precision: Int) -> String {
        var size = value
        var unit = 0
        while size >= base && unit < units.count - 1 {
            size /= base
            unit += 1
        }
        return String(format: "%.*g", precision, size) + units[unit]
    }

    /// Parses a size with an optional binary unit, as Docker's `RAMInBytes`: `10m`, `512k`, `1.5g`,
    /// `64MiB`, `1048576` (k = 1024). Nil when malformed or negative.
    public static func parseBinary(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var number = ""
        var rest = Substring(trimmed)
        while let c = rest.first, c.isASCII, c.isNumber || c == "." {
            number.append(c)
            rest = rest.dropFirst()
        }
        guard !number.isEmpty, let value = Double(number), value >= 0 else { return nil }
        var suffix = rest.lowercased()
        if suffix.hasPrefix(" ") { suffix.removeFirst() }
        let multipliers: [Character: Double] = ["k": 0x1p10, "m": 0x1p20, "g": 0x1p30, "t": 0x1p40, "p": 0x1p50]
        var multiplier = 1.0
        if let first = suffix.first, let m = multipliers[first] {
            multiplier = m
            suffix.removeFirst()
            if suffix.hasPrefix("i") { suffix.removeFirst() }
        }
        guard suffix == "" || suffix == "b" else { return nil }
        let bytes = value * multiplier
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }
}
