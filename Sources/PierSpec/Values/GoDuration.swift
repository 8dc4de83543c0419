/// Durations written as Go's `time.ParseDuration` and Docker's flags take them: `30s`, `1m30s`,
/// `500ms`, `1.5h`, `0`. Units: ns, us (µs), ms, s, m, h. The one duration parser of `pier run`,
/// services, compose and the daemons' flags.
public enum GoDuration {
    /// What a duration looks like, for errors.
    public static let expected = "expected a duration such as 10s, 1m30s, 500ms or 1h"

    /// Seconds in `text`, or nil when it is not a duration (a bare number other than 0 needs a unit).
    public static func seconds(_ text: String) -> Double? {
        var rest = Substring(text)
        while rest.first == " " { rest = rest.dropFirst() }
        while rest.last == " " { rest = rest.dropLast() }
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]
        var total = 0.0
        while !rest.isEmpty {
            var number = ""
            while let c = rest.first, c.isASCII, c.isNumber || c == "." {
                number.append(c)
                rest = rest.dropFirst()
            }
            guard !number.isEmpty, number.count <= 32, number != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number.hasSuffix(".") ? number + "0" : number)
            else { return nil }
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            // "m" must not swallow the "m" of "ms".
            if unit == "m" && rest.hasPrefix("ms") { return nil }
            rest = rest.dropFirst(unit.count)
            total += value * scale
        }
        guard total.isFinite else { return nil }
        return negative ? -total : total
    }
}
