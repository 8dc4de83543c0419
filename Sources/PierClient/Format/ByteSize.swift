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
}
