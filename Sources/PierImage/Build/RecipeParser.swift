import Foundation
import PierOCI

/// Turns recipe text into a `Recipe`, one logical line (continuations joined) at a time.
struct RecipeParser {
    private var base: Recipe.Base?
    private var copies: [Recipe.Copy] = []
    private var changes = ImageConfigChanges()
    private var workdir = "/"

    mutating func parse(_ text: String) throws(RecipeError) -> Recipe {
        for (line, content) in Self.logicalLines(text) {
            try instruction(content, line: line)
        }
        guard let base else { throw RecipeError(line: 0, message: "no FROM instruction; start the recipe with FROM scratch or FROM IMAGE") }
        return Recipe(base: base, copies: copies, changes: changes)
    }

    /// Joins continuation lines (ending in `\`), drops comments and blank lines; each result
    /// carries the number of the line it starts on.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var result: [(Int, String)] = []
        var current = ""
        var start = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, raw) in lines.enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("#") { continue }
            if current.isEmpty && trimmed.isEmpty { continue }
            if current.isEmpty { start = index + 1 }
            let right = line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            if right.hasSuffix("\\") {
                current += String(right.dropLast())
                continue
            }
            current += line
            result.append((start, current.trimmingCharacters(in: .whitespaces)))
            current = ""
        }
        let rest = current.trimmingCharacters(in: .whitespaces)
        if !rest.isEmpty { result.append((start, rest)) }
        return result
    }

    private mutating func instruction(_ content: String, line: Int) throws(RecipeError) {
        let keywordEnd = content.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? content.endIndex
        let keyword = content[..<keywordEnd].uppercased()
        let rest = content[keywordEnd...].trimmingCharacters(in: .whitespaces)
        func fail(_ message: String) -> RecipeError { RecipeError(line: line, message: message) }

        if base == nil && keyword != "FROM" {
            throw fail("\(keyword) before FROM; a recipe starts with FROM scratch or FROM IMAGE")
        }
        switch keyword {
        case "FROM":
            guard base == nil else { throw fail("a second FROM: multi-stage recipes are not supported") }
            let words = try Self.words(rest, line: line)
            if let flag = words.first(where: { $0.hasPrefix("--") }) { throw fail("FROM option \(flag) is not supported") }
            guard words.count == 1 || (words.count == 3 && words[1].uppercased() == "AS") else {
                throw fail("FROM takes one image (FROM scratch or FROM IMAGE)")
            }
            if words[0] == "scratch" {
                base = .scratch
            } else {
                do { _ = try ImageReference(parsing: words[0]) } catch { throw fail(error.description) }
                base = .image(words[0])
            }
        case "COPY", "ADD":
            try copy(keyword: keyword, rest, line: line, original: content)
        case "ENV":
            let pairs = try Self.keyValues(rest, line: line, instruction: "ENV", legacyForm: true)
            for (k, v) in pairs { changes.env.append(EnvironmentVariable(k, v)) }
        case "LABEL":
            let pairs = try Self.keyValues(rest, line: line, instruction: "LABEL", legacyForm: false)
            for (k, v) in pairs { changes.labels[k] = v }
        case "WORKDIR":
            let words = try Self.words(rest, line: line)
            guard words.count == 1 else { throw fail("WORKDIR takes one path") }
            workdir = Self.join(workdir, words[0])
            changes.workingDir = workdir
        case "USER":
            let words = try Self.words(rest, line: line)
            guard words.count == 1 else { throw fail("USER takes one user[:group]") }
            changes.user = words[0]
        case "ENTRYPOINT":
            changes.entrypoint = try Self.command(rest, line: line, instruction: "ENTRYPOINT")
        case "CMD":
            changes.cmd = try Self.command(rest, line: line, instruction: "CMD")
        case "EXPOSE":
            let words = try Self.words(rest, line: line)
            guard !words.isEmpty else { throw fail("EXPOSE needs at least one port") }
            for word in words {
                let parts = word.split(separator: "/", omittingEmptySubsequences: false)
                guard let port = Int(parts[0]), (1...65535).contains(port),
                      parts.count == 1 || (parts.count == 2 && ["tcp", "udp", "sctp"].contains(parts[1].lowercased())) else {
                    throw fail("EXPOSE \(word) is not PORT[/tcp|udp|sctp]")
                }
                changes.exposedPorts.append(parts.count == 2 ? "\(port)/\(parts[1].lowercased())" : "\(port)/tcp")
            }
        case "STOPSIGNAL":
            let words = try Self.words(rest, line: line)
            guard words.count == 1 else { throw fail("STOPSIGNAL takes one signal, e.g. SIGTERM or 15") }
            changes.stopSignal = words[0]
        case "VOLUME":
            let list: [String]
            if rest.hasPrefix("["), let json = Self.jsonArray(rest) { list = json } else { list = try Self.words(rest, line: line) }
            guard !list.isEmpty else { throw fail("VOLUME needs at least one path") }
            changes.volumes += list
        case "RUN":
            throw fail("RUN is not supported: pier builds images without running containers; build the files on the host and COPY them")
        case "":
            break
        default:
            throw fail("unknown instruction \(keyword); pier recipes support FROM, COPY, ADD, ENV, WORKDIR, USER, ENTRYPOINT, CMD, LABEL, EXPOSE, STOPSIGNAL and VOLUME")
        }
    }

    private mutating func copy(keyword: String, _ rest: String, line: Int, original: String) throws(RecipeError) {
        func fail(_ message: String) -> RecipeError { RecipeError(line: line, message: message) }
        var args: [String]
        var withLibs = false
        var ownership: ImageBuildRequest.Ownership?
        var words = try Self.words(rest, line: line)
        while let flag = words.first, flag.hasPrefix("--") {
            words.removeFirst()
            if flag == "--with-libs" {
                withLibs = true
            } else if flag.hasPrefix("--chown=") {
                let spec = flag.dropFirst("--chown=".count).split(separator: ":", omittingEmptySubsequences: false)
                guard let uid = Int64(spec[0]), spec.count <= 2 else {
                    throw fail("\(keyword) --chown takes numeric UID[:GID] (names cannot be looked up without running the image)")
                }
                let gid = spec.count == 2 ? Int64(spec[1]) : uid
                guard let gid else { throw fail("\(keyword) --chown takes numeric UID[:GID]") }
                ownership = .init(uid: uid, gid: gid)
            } else {
                throw fail("\(keyword) option \(flag) is not supported (only --with-libs and --chown=UID:GID)")
            }
        }
        let remainder = words.joined(separator: " ")
        if remainder.hasPrefix("["), let json = Self.jsonArray(Self.afterFlags(rest)) {
            args = json
        } else {
            args = words
        }
        guard args.count >= 2, let destination = args.last else {
            throw fail("\(keyword) needs at least one source and a destination")
        }
        let sources = Array(args.dropLast())
        for source in sources {
            let lower = source.lowercased()
            if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("git@") || lower.hasPrefix("ftp://") {
                throw fail("\(keyword) of a URL (\(source)) is not supported; download the file and copy it")
            }
        }
        var resolved = destination.hasPrefix("/") ? destination : Self.join(workdir, destination)
        if destination.hasSuffix("/") && !resolved.hasSuffix("/") { resolved += "/" }
        if (destination == "." || destination == "./") && !resolved.hasSuffix("/") { resolved += "/" }
        copies.append(Recipe.Copy(sources: sources, destination: resolved, withLibs: withLibs, ownership: ownership,
                                  instruction: original, line: line))
    }

    /// The text after leading `--flags`.
    private static func afterFlags(_ text: String) -> String {
        var rest = Substring(text)
        while rest.hasPrefix("--") {
            let end = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
            rest = rest[end...].drop(while: { $0 == " " || $0 == "\t" })
        }
        return String(rest)
    }

    /// `/a` + `b` → `/a/b`; an absolute `path` replaces `base`.
    static func join(_ base: String, _ path: String) -> String {
        let combined = path.hasPrefix("/") ? path : (base.hasSuffix("/") ? base : base + "/") + path
        var parts: [Substring] = []
        for part in combined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Exec form (`["a", "b"]`) as is; shell form wrapped in `/bin/sh -c`.
    static func command(_ rest: String, line: Int, instruction: String) throws(RecipeError) -> [String] {
        if rest.hasPrefix("["), let json = jsonArray(rest) { return json }
        guard !rest.isEmpty else { throw RecipeError(line: line, message: "\(instruction) needs a command") }
        return ["/bin/sh", "-c", rest]
    }

    static func jsonArray(_ text: String) -> [String]? {
        guard let data = text.data(using: .utf8) else { return nil }
        return try? JSONDecoder().decode([String].self, from: data)
    }

    /// `K=V K2="v 2"`, or the legacy `K value with spaces` (ENV only).
    static func keyValues(_ rest: String, line: Int, instruction: String, legacyForm: Bool) throws(RecipeError) -> [(String, String)] {
        let words = try words(rest, line: line)
        guard let first = words.first else { throw RecipeError(line: line, message: "\(instruction) needs KEY=VALUE") }
        if !first.contains("=") {
            guard legacyForm, words.count >= 2 else {
                throw RecipeError(line: line, message: "\(instruction) expects KEY=VALUE pairs (got \"\(first)\")")
            }
            // Legacy `ENV KEY value...`: the rest of the line, as written, is the value.
            let value = rest.dropFirst(rest.distance(from: rest.startIndex, to: rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex))
                .trimmingCharacters(in: .whitespaces)
            return [(first, value)]
        }
        var pairs: [(String, String)] = []
        for word in words {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                throw RecipeError(line: line, message: "\(instruction) expects KEY=VALUE pairs (got \"\(word)\")")
            }
            pairs.append((String(word[..<eq]), String(word[word.index(after: eq)...])))
        }
        return pairs
    }

    /// Splits on whitespace, honouring "double" and 'single' quotes and backslash escapes.
    static func words(_ text: String, line: Int) throws(RecipeError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                current.append(c); escaped = false; inWord = true
                continue
            }
            if c == "\\" && quote != "'" { escaped = true; continue }
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
                continue
            }
            if c == "\"" || c == "'" { quote = c; inWord = true; continue }
            if c == " " || c == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(c); inWord = true
        }
        if quote != nil { throw RecipeError(line: line, message: "unterminated quote") }
        if escaped { current.append("\\") }
        if inWord { words.append(current) }
        return words
    }
}
