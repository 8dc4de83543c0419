import Foundation

/// Docker's `--env-file` format: one `KEY=VALUE` per line, values taken literally (no quotes are
/// removed), `#` comment lines and blank lines skipped, a bare `KEY` takes its value from the
/// client's environment (and is dropped when unset there).
public enum EnvFile {
    /// The `KEY=VALUE` entries of `text`; `path` names the file in errors.
    public static func parse(_ text: String, path: String, environment: [String: String]) throws(ClientError) -> [String] {
        var entries: [String] = []
        var lineNumber = 0
        // "\r\n" is one Character in Swift, so line ends are normalized before splitting.
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        for rawLine in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            while let first = line.first, first == " " || first == "\t" { line = line.dropFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            if let resolved = try resolve(String(line), environment: environment, origin: "\(path) line \(lineNumber)") {
                entries.append(resolved)
            }
        }
        return entries
    }

    /// `KEY=VALUE` as is; `KEY` alone from `environment` (nil when unset). `origin` names the source in errors.
    public static func resolve(_ entry: String, environment: [String: String], origin: String) throws(ClientError) -> String? {
        let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !key.isEmpty else {
            throw .invalidArgument("\(origin): \"\(entry)\" has no variable name; write KEY=VALUE")
        }
        guard !key.contains(where: { $0 == " " || $0 == "\t" }) else {
            throw .invalidArgument("\(origin): variable name \"\(key)\" contains whitespace")
        }
        if entry.contains("=") { return entry }
        return environment[key].map { "\(key)=\($0)" }
    }
}
