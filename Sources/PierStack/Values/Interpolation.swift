/// Compose's variable interpolation (compose-spec "Interpolation"): `$VAR`, `${VAR}`,
/// `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`,
/// `${VAR+replacement}`, and `$$` for a literal `$`. Defaults may themselves hold references.
struct Interpolation {
    let environment: [String: String]
    /// Names referenced without a default that were not set; Compose substitutes "" and warns.
    private(set) var unset: [String] = []

    init(environment: [String: String]) { self.environment = environment }

    struct Failure: Error, Equatable { var message: String }

    /// `text` with every reference replaced; a malformed reference or a `:?` on a missing
    /// variable throws with the reason.
    mutating func expand(_ text: String) throws(Failure) -> String {
        guard text.contains("$") else { return text }
        return try expand(Array(text.unicodeScalars)[...], depth: 0)
    }

    private mutating func expand(_ chars: ArraySlice<Unicode.Scalar>, depth: Int) throws(Failure) -> String {
        guard depth < 8 else { throw Failure(message: "variable defaults nest more than 8 levels deep") }
        var out = String.UnicodeScalarView()
        var i = chars.startIndex
        while i < chars.endIndex {
            let c = chars[i]
            guard c == "$" else { out.append(c); i += 1; continue }
            let next = i + 1
            guard next < chars.endIndex else {
                throw Failure(message: "ends with a lone '$'; write $$ for a literal $")
            }
            if chars[next] == "$" {
                out.append("$"); i = next + 1
            } else if Self.isNameStart(chars[next]) {
                var end = next
                while end < chars.endIndex, Self.isNameChar(chars[end]) { end += 1 }
                out.append(contentsOf: lookup(String(String.UnicodeScalarView(chars[next..<end]))).unicodeScalars)
                i = end
            } else if chars[next] == "{" {
                var level = 1
                var j = next + 1
                while j < chars.endIndex {
                    if chars[j] == "$", j + 1 < chars.endIndex, chars[j + 1] == "{" { level += 1; j += 2; continue }
                    if chars[j] == "}" { level -= 1; if level == 0 { break } }
                    j += 1
                }
                guard j < chars.endIndex else {
                    throw Failure(message: "has an unclosed '${'; close it with '}' or write $$ for a literal $")
                }
                out.append(contentsOf: try braced(chars[(next + 1)..<j], depth: depth).unicodeScalars)
                i = j + 1
            } else {
                throw Failure(message: "has '$' followed by '\(chars[next])', which is not a variable reference; write $$ for a literal $")
            }
        }
        return String(out)
    }

    private mutating func braced(_ body: ArraySlice<Unicode.Scalar>, depth: Int) throws(Failure) -> String {
        let shown = "${" + String(String.UnicodeScalarView(body)) + "}"
        guard let first = body.first, Self.isNameStart(first) else {
            throw Failure(message: "has \(shown), which does not start with a variable name")
        }
        var end = body.startIndex
        while end < body.endIndex, Self.isNameChar(body[end]) { end += 1 }
        let name = String(String.UnicodeScalarView(body[body.startIndex..<end]))
        if end == body.endIndex { return lookup(name) }
        var opEnd = end
        let colon = body[opEnd] == ":"
        if colon { opEnd += 1 }
        guard opEnd < body.endIndex, ["-", "?", "+"].contains(body[opEnd]) else {
            throw Failure(message: "has \(shown); expected ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} or ${VAR:+value}")
        }
        let op = body[opEnd]
        let argument = body[(opEnd + 1)...]
        let value = environment[name]
        let missing = colon ? (value ?? "").isEmpty : value == nil
        switch op {
        case "-":
            return missing ? try expand(argument, depth: depth + 1) : (value ?? "")
        case "?":
            guard missing else { return value ?? "" }
            let why = try expand(argument, depth: depth + 1)
            throw Failure(message: "required variable \(name) is \(value == nil ? "not set" : "empty")\(why.isEmpty ? "" : ": \(why)")")
        default:
            return missing ? "" : try expand(argument, depth: depth + 1)
        }
    }

    private mutating func lookup(_ name: String) -> String {
        if let value = environment[name] { return value }
        if !unset.contains(name) { unset.append(name) }
        return ""
    }

    private static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        c == "_" || ("a"..."z").contains(c) || ("A"..."Z").contains(c)
    }

    private static func isNameChar(_ c: Unicode.Scalar) -> Bool { isNameStart(c) || ("0"..."9").contains(c) }
}
