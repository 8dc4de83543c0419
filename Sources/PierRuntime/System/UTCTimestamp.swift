import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// UTC timestamps as `2026-01-02T15:04:05.123456789Z` (RFC 3339, the shim's exit file) or
/// `2026-01-02 15:04:05.123` (the agent's database), read and written with the C library only.
/// Foundation's date formatters load ICU's locale, calendar and time-zone data, which costs the
/// long-running agent about 3 MiB of resident memory for two fixed formats.
public enum UTCTimestamp {
    /// Formats `date` in UTC with `separator` between date and time and `fractionDigits` (0–9)
    /// digits of the second; `zulu` appends `Z`.
    public static func format(_ date: Date, separator: Character = "T", fractionDigits: Int = 9, zulu: Bool = true) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = interval.rounded(.down)
        let digits = min(max(fractionDigits, 0), 9)
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        var fraction = Int(((interval - seconds) * Double(scale)).rounded(.down))
        if fraction >= scale { fraction = scale - 1 }
        if !seconds.isFinite || abs(seconds) > 1e14 { seconds = 0; fraction = 0 }
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var out = pad(Int(parts.tm_year) + 1900, 4) + "-" + pad(Int(parts.tm_mon) + 1, 2) + "-" + pad(Int(parts.tm_mday), 2)
        out.append(separator)
        out += pad(Int(parts.tm_hour), 2) + ":" + pad(Int(parts.tm_min), 2) + ":" + pad(Int(parts.tm_sec), 2)
        if digits > 0 { out += "." + pad(fraction, digits) }
        if zulu { out += "Z" }
        return out
    }

    /// Parses `YYYY-MM-DD[T or space]HH:MM[:SS[.fraction]][Z]`, read as UTC; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ count: Int) -> Int? {
            guard i + count <= b.count else { return nil }
            var v = 0
            for k in i..<(i + count) {
                guard b[k] >= 48, b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect(45), let month = number(2), expect(45), let day = number(2) else { return nil }
        guard i < b.count, b[i] == 84 || b[i] == 32 else { return nil }  // "T" or " "
        i += 1
        guard let hour = number(2), expect(58), let minute = number(2) else { return nil }
        var second = 0
        var fraction = 0.0
        if expect(58) {
            guard let s = number(2) else { return nil }
            second = s
            if expect(46) {
                var scale = 0.1
                let start = i
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    fraction += Double(b[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start else { return nil }
            }
        }
        _ = expect(90)  // "Z"
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
