/// Splits a command line into words as a POSIX shell would, without expansions: whitespace
/// separates words, single quotes keep everything, double quotes keep all but `\"` and `\\`,
/// and a backslash outside quotes escapes the next character. For `--args "sh -c 'echo hi'"`.
public enum ShellWords {
    /// The words of `text`, or nil when a quote is not closed or the text ends in a backslash.
    public static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = text.makeIterator()
        while let c = iterator.next() {
            switch c {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "'" { closed = true; break }
                    current.append(q)
                }
                guard closed else { return nil }
            case "\"":
                inWord = true
                var closed = false
                while let q = iterator.next() {
                    if q == "\"" { closed = true; break }
                    if q == "\\" {
                        guard let next = iterator.next() else { return nil }
                        if next != "\"" && next != "\\" { current.append("\\") }
                        current.append(next)
                    } else {
                        current.append(q)
                    }
                }
                guard closed else { return nil }
            case "\\":
                guard let next = iterator.next() else { return nil }
                inWord = true
                current.append(next)
            default:
                inWord = true
                current.append(c)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
