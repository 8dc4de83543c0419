/// Columns aligned as Docker aligns them (Go's tabwriter with minimum width 10 and padding 3):
/// every column but the last is as wide as its widest cell plus three spaces, and at least ten.
public struct TextTable: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]

    public init(header: [String], rows: [[String]] = []) {
        self.header = header; self.rows = rows
    }

    static let minimumWidth = 10
    static let padding = 3

    /// The table as text, one line per row, each ending in a newline; trailing spaces trimmed.
    public func rendered() -> String {
        let lines = [header] + rows
        let columns = lines.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for line in lines {
            for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count + Self.padding, Self.minimumWidth) }
        }
        var out = ""
        for line in lines {
            var text = ""
            for (i, cell) in line.enumerated() {
                text += cell
                if i < line.count - 1 { text += String(repeating: " ", count: widths[i] - cell.count) }
            }
            while text.hasSuffix(" ") { text.removeLast() }
            out += text + "\n"
        }
        return out
    }
}
