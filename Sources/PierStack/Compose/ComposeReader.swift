import PierSpec
/// Reads a parsed compose document into typed values, recording every problem (with its dotted
/// path) instead of stopping at the first, so one error lists all of them.
struct ComposeReader {
    var problems: [ComposeProblem] = []
    /// What is accepted but served differently, for people (`path: message`).
    var warnings: [String] = []
    var interpolation: Interpolation
    /// Absolute directory that relative bind-mount sources are resolved against.
    let directory: String

    init(environment: [String: String], directory: String) {
        interpolation = Interpolation(environment: environment)
        self.directory = directory
    }

    mutating func invalid(_ path: String, _ message: String) {
        problems.append(ComposeProblem(path: path, kind: .invalid, message: message))
    }

    mutating func unsupported(_ path: String, _ message: String) {
        problems.append(ComposeProblem(path: path, kind: .unsupported, message: message))
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    static func index(_ path: String, _ i: Int) -> String { "\(path)[\(i)]" }

    // MARK: Structure

    /// The entries of a mapping whose keys must be among `allowed` (or start with `x-`, Compose's
    /// extension fields, which are ignored). Every other key is reported as unsupported, with the
    /// hint for it when there is one. nil (reported) when `value` is not a mapping.
    mutating func mapping(
        _ value: YAMLValue, _ path: String, allowed: Set<String>, hints: [String: String] = [:]
    ) -> [String: YAMLValue]? {
        guard case .mapping(let entries) = value else {
            invalid(path, "expected a mapping (key: value lines), found \(value.kindName)")
            return nil
        }
        var result: [String: YAMLValue] = [:]
        for e in entries {
            if allowed.contains(e.key) {
                result[e.key] = e.value
            } else if !e.key.hasPrefix("x-") {
                unsupported(Self.join(path, e.key), hints[e.key] ?? "not supported by Pier; remove it")
            }
        }
        return result
    }

    /// A mapping's entries in file order, keys unchecked (service names, label keys).
    mutating func entries(_ value: YAMLValue, _ path: String, what: String) -> [YAMLValue.Entry]? {
        switch value {
        case .mapping(let entries): return entries
        case .null: return []
        default:
            invalid(path, "expected a mapping of \(what), found \(value.kindName)")
            return nil
        }
    }

    /// The items of a list; nil (reported) for anything else. A null list is empty.
    mutating func list(_ value: YAMLValue, _ path: String, of what: String) -> [YAMLValue]? {
        switch value {
        case .sequence(let items): return items
        case .null: return []
        default:
            invalid(path, "expected a list of \(what), found \(value.kindName)")
            return nil
        }
    }

    // MARK: Scalars

    /// A scalar's text, interpolated. nil for null (absent) and, reported, for lists and mappings.
    mutating func string(_ value: YAMLValue, _ path: String) -> String? {
        switch value {
        case .null: return nil
        case .scalar(let raw, _):
            do {
                return try interpolation.expand(raw)
            } catch {
                invalid(path, "\"\(raw)\" \(error.message)")
                return nil
            }
        case .sequence, .mapping:
            invalid(path, "expected a single value, found \(value.kindName)")
            return nil
        }
    }

    /// A non-empty string without control characters.
    mutating func word(_ value: YAMLValue, _ path: String, what: String) -> String? {
        guard let s = string(value, path) else { return nil }
        guard !s.isEmpty, !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            invalid(path, "\(s.isEmpty ? "is empty" : "\"\(s)\" contains control characters"); expected \(what)")
            return nil
        }
        return s
    }

    mutating func int(_ value: YAMLValue, _ path: String, atLeast minimum: Int = 0) -> Int? {
        guard let s = string(value, path) else { return nil }
        guard let n = Int(s) else {
            invalid(path, "\"\(s)\" is not a number")
            return nil
        }
        guard n >= minimum else {
            invalid(path, "\(n) is too small; expected \(minimum) or more")
            return nil
        }
        return n
    }

    mutating func double(_ value: YAMLValue, _ path: String, range: ClosedRange<Double>, what: String) -> Double? {
        guard let s = string(value, path) else { return nil }
        guard let d = Double(s), d.isFinite else {
            invalid(path, "\"\(s)\" is not a number; expected \(what)")
            return nil
        }
        guard range.contains(d) else {
            invalid(path, "\(s) is out of range; expected \(what)")
            return nil
        }
        return d
    }

    mutating func bool(_ value: YAMLValue, _ path: String) -> Bool? {
        guard let s = string(value, path) else { return nil }
        switch s.lowercased() {
        case "true", "yes", "on", "y": return true
        case "false", "no", "off", "n": return false
        default:
            invalid(path, "\"\(s)\" is not true or false")
            return nil
        }
    }

    mutating func duration(_ value: YAMLValue, _ path: String, positive: Bool = false) -> Double? {
        guard let s = string(value, path) else { return nil }
        guard s.first != "-", s.first != "+", let seconds = GoDuration.seconds(s) else {
            invalid(path, "\"\(s)\" is not a duration; \(GoDuration.expected)")
            return nil
        }
        guard !positive || seconds > 0 else {
            invalid(path, "\"\(s)\" must be longer than zero")
            return nil
        }
        return seconds
    }

    mutating func bytes(_ value: YAMLValue, _ path: String) -> Int64? {
        guard let s = string(value, path) else { return nil }
        guard let n = MemorySize.parse(s), n > 0 else {
            invalid(path, "\"\(s)\" is not a memory size; \(MemorySize.expected)")
            return nil
        }
        return n
    }

    /// One of `choices`, named in the error otherwise.
    mutating func choice<T: RawRepresentable>(_ value: YAMLValue, _ path: String, _ type: T.Type, choices: [T]) -> T?
    where T.RawValue == String {
        guard let s = string(value, path) else { return nil }
        guard let v = T(rawValue: s), choices.contains(where: { $0.rawValue == s }) else {
            invalid(path, "\"\(s)\" is not one of \(choices.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return v
    }

    /// A list of non-empty strings (a single string is accepted as a list of one when `single`).
    mutating func strings(_ value: YAMLValue, _ path: String, what: String, single: Bool = false) -> [String]? {
        if single, case .scalar = value { return word(value, path, what: what).map { [$0] } }
        guard let items = list(value, path, of: what) else { return nil }
        var out: [String] = []
        var ok = true
        for (i, item) in items.enumerated() {
            if let s = word(item, Self.index(path, i), what: what) {
                out.append(s)
            } else {
                if item == .null { invalid(Self.index(path, i), "is empty; expected \(what)") }
                ok = false
            }
        }
        return ok ? out : nil
    }

    /// `KEY=VALUE` entries from a list (`- K=V`, `- K`) or a mapping (`K: V`, `K:`), in file order.
    /// A value is nil for a bare `K` or a null.
    mutating func keyValues(_ value: YAMLValue, _ path: String, what: String) -> [(key: String, value: String?)]? {
        var out: [(key: String, value: String?)] = []
        var ok = true
        switch value {
        case .null:
            return []
        case .sequence(let items):
            for (i, item) in items.enumerated() {
                let p = Self.index(path, i)
                guard let s = string(item, p) else {
                    if item == .null { invalid(p, "is empty; expected KEY=VALUE") }
                    ok = false
                    continue
                }
                if let eq = s.firstIndex(of: "=") {
                    out.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
                } else {
                    out.append((s, nil))
                }
            }
        case .mapping(let entries):
            for e in entries {
                let p = Self.join(path, e.key)
                if e.value == .null {
                    out.append((e.key, nil))
                } else if let s = string(e.value, p) {
                    out.append((e.key, s))
                } else {
                    ok = false
                }
            }
        case .scalar:
            invalid(path, "expected a list of KEY=VALUE or a mapping of \(what), found \(value.kindName)")
            return nil
        }
        for (i, entry) in out.enumerated() {
            let p = value.isSequence ? Self.index(path, i) : Self.join(path, entry.key)
            if entry.key.isEmpty || entry.key.contains("=")
                || entry.key.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }) {
                invalid(p, "\"\(entry.key)\" is not a valid name for \(what); expected KEY=VALUE with a non-empty KEY without blanks")
                ok = false
            } else if entry.value?.contains("\0") == true {
                invalid(p, "the value of \(entry.key) contains a NUL character")
                ok = false
            }
        }
        return ok ? out : nil
    }

    /// Labels: `KEY=VALUE` (a bare `KEY` has the empty value), later keys overriding earlier ones.
    mutating func labels(_ value: YAMLValue, _ path: String) -> [String: String]? {
        guard let pairs = keyValues(value, path, what: "labels") else { return nil }
        var out: [String: String] = [:]
        for p in pairs { out[p.key] = p.value ?? "" }
        return out
    }
}

extension YAMLValue {
    var isSequence: Bool {
        if case .sequence = self { return true }
        return false
    }
}
