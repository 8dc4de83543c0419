import Foundation

/// A signal given by name (`SIGTERM`, `TERM`, case-insensitive), number (`15`) or real-time
/// form (`RTMIN+3`), as `--stop-signal` and `kill --signal` take it.
public struct Signal: Sendable, Hashable, CustomStringConvertible {
    public var number: Int32

    /// SIGTERM, the default stop signal.
    public static let term = Signal(number: 15)
    public static let kill = Signal(number: 9)

    public init(number: Int32) { self.number = number }

    private static let names: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17,
        "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
        "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]
    private static let rtmin: Int32 = 34
    private static let rtmax: Int32 = 64

    public init(parsing text: String, flag: String = "--signal") throws {
        let expected = "expected a signal name such as SIGTERM or TERM, or a number from 1 to 64"
        let upper = text.trimmingCharacters(in: .whitespaces).uppercased()
        if let n = Int32(upper) {
            guard (1...Self.rtmax).contains(n) else { throw ContainerSpecError.invalid(flag: flag, value: text, expected: expected) }
            self.init(number: n)
            return
        }
        let name = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
        if let n = Self.names[name] {
            self.init(number: n)
            return
        }
        for (base, sign, anchor) in [("RTMIN", Int32(1), Self.rtmin), ("RTMAX", Int32(-1), Self.rtmax)] where name.hasPrefix(base) {
            let rest = name.dropFirst(base.count)
            if rest.isEmpty { self.init(number: anchor); return }
            let offsetText = rest.dropFirst()
            // The offset is bounded before any arithmetic: RTMIN+2147483647 must be refused, not overflow.
            if rest.first == (sign > 0 ? "+" : "-"), let offset = Int32(offsetText), (0...(Self.rtmax - Self.rtmin)).contains(offset) {
                self.init(number: anchor + sign * offset)
                return
            }
        }
        throw ContainerSpecError.invalid(flag: flag, value: text, expected: expected)
    }

    /// `SIGTERM`, or the number for signals without a classic name.
    public var description: String {
        if let name = Self.names.filter({ $0.value == number && !["IOT", "CLD", "POLL"].contains($0.key) }).first?.key {
            return "SIG" + name
        }
        return "\(number)"
    }
}
