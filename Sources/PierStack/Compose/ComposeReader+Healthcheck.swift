import PierSpec
import PierAPI

extension ComposeReader {
    /// `healthcheck`: `test` as `["CMD", …]`, `["CMD-SHELL", "…"]`, a string (shell form) or
    /// `["NONE"]`; `disable: true`; `interval`, `timeout`, `start_period` durations; `retries`.
    /// nil when disabled. Defaults are Docker's: 30s, 30s, 3 retries, no start period.
    mutating func healthcheck(_ value: YAMLValue, _ path: String) -> HealthCheckConfig? {
        let hints = ["start_interval": "not supported: checks run every interval from the start"]
        guard let f = mapping(value, path, allowed: ["test", "interval", "timeout", "retries", "start_period", "disable"], hints: hints) else {
            return nil
        }
        func p(_ key: String) -> String { Self.join(path, key) }
        let disabled = f["disable"].flatMap { bool($0, p("disable")) } ?? false
        var command: [String]?
        var none = false
        switch f["test"] {
        case nil, .null?:
            if !disabled { invalid(p("test"), "is required: the command that checks the service, e.g. [\"CMD\", \"curl\", \"-f\", \"http://localhost\"]") }
        case .scalar?:
            if let s = word(f["test"] ?? .null, p("test"), what: "a shell command") { command = [s] }
        case .sequence(let items)?:
            var words: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = string(item, Self.index(p("test"), i)) else {
                    if item == .null { invalid(Self.index(p("test"), i), "is empty; write \"\" for an empty argument") }
                    return nil
                }
                words.append(s)
            }
            switch words.first {
            case "NONE":
                none = true
            case "CMD":
                if words.count < 2 { invalid(p("test"), "[\"CMD\"] has no command; add the program and its arguments") }
                command = Array(words.dropFirst())
            case "CMD-SHELL":
                if words.count != 2 || words[1].isEmpty {
                    invalid(p("test"), "[\"CMD-SHELL\", …] takes exactly one non-empty shell command")
                }
                command = Array(words.dropFirst())
            default:
                invalid(p("test"), "a list must start with \"CMD\", \"CMD-SHELL\" or \"NONE\", found \(words.first.map { "\"\($0)\"" } ?? "an empty list")")
            }
        case .mapping?:
            invalid(p("test"), "expected a command string or a list such as [\"CMD\", \"curl\", \"-f\", \"http://localhost\"], found a mapping")
        }
        if disabled, command != nil {
            invalid(p("disable"), "disable: true and a test cannot both be given; remove one")
        }
        var check = HealthCheckConfig(command: command ?? [])
        if let v = f["interval"], let s = duration(v, p("interval"), positive: true) { check.intervalSeconds = s }
        if let v = f["timeout"], let s = duration(v, p("timeout"), positive: true) { check.timeoutSeconds = s }
        if let v = f["start_period"], let s = duration(v, p("start_period")) { check.startPeriodSeconds = s }
        if let v = f["retries"], let n = int(v, p("retries"), atLeast: 1) { check.retries = n }
        if disabled || none { return nil }
        return command == nil ? nil : check
    }
}
