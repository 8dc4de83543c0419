/// Durations as Compose writes them, Go's `time.ParseDuration` syntax: `10s`, `1m30s`, `500ms`,
/// `1.5h`, `0`. Units `ns`, `us` (`µs`), `ms`, `s`, `m`, `h`; no sign, no bare numbers.
enum ComposeDuration {
    static let expected = "expected a duration such as 10s, 1m30s, 500ms or 1h"

    /// Seconds, or nil when `text` is not a duration.
    static func seconds(_ text: String) -> Double? {
        if text == "0" { return 0 }
        let units: [(String, Double)] = [
            ("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, number != ".",
                let value = Double(number.hasSuffix(".") ? number + "0" : number)
            else { return nil }
            rest = rest.dropFirst(number.count)
            // Longest unit first, so `ms` is not read as `m` followed by `s`.
            guard let (unit, scale) = units.sorted(by: { $0.0.count > $1.0.count }).first(where: { rest.hasPrefix($0.0) }) else {
                return nil
            }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        return total.isFinite ? total : nil
    }
}
