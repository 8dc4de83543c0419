import Foundation

/// `--format json` and `inspect` output: indented JSON with sorted keys and ISO 8601 dates.
public enum JSONOutput {
    /// `value` as indented JSON followed by a newline.
    public static func render(_ value: some Encodable) throws -> String {
        let text = String(decoding: try WireCoding.printingEncoder().encode(value), as: UTF8.self)
        // Foundation prints an empty array as "[\n\n]".
        return (text.filter { !$0.isWhitespace } == "[]" ? "[]" : text) + "\n"
    }

    /// `value` as JSON on a single line followed by a newline (one sample per line when streaming).
    public static func renderLine(_ value: some Encodable) throws -> String {
        let encoder = WireCoding.encoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
