/// Splits a command line the way a POSIX shell splits words (and Compose does for a string
/// `command` or `entrypoint`): blanks separate words, single quotes keep everything, double
/// quotes keep everything but `\"`, `\\`, `\$` and `` \` ``, and a backslash outside quotes escapes the next character.
/// No expansion, globbing or operators: `a | b` is three words.
enum ShellWords {
    struct Failure: Error, Equatable { var message: String }

    static func split(_ line: String) throws(Failure) -> [String] {
        enum Quote { case none, single, double }
        var words: [String] = []
        var word = ""
        var inWord = false
        var quote = Quote.none
        var escaped = false
        for c in line {
            if escaped {
                if quote == .double, !["\"", "\\", "$", "`", "\n"].contains(c) { word.append("\\") }
                if c != "\n" { word.append(c) }
                escaped = false
                inWord = true
                continue
            }
            switch quote {
            case .single:
                if c == "'" { quote = .none } else { word.append(c) }
            case .double:
                if c == "\"" { quote = .none } else if c == "\\" { escaped = true } else { word.append(c) }
            case .none:
                switch c {
                case " ", "\t", "\n", "\r":
                    if inWord { words.append(word); word = ""; inWord = false }
                case "'": quote = .single; inWord = true
                case "\"": quote = .double; inWord = true
                case "\\": escaped = true; inWord = true
                default: word.append(c); inWord = true
                }
            }
        }
        if escaped && quote == .none { throw Failure(message: "ends with a lone backslash") }
        switch quote {
        case .single: throw Failure(message: "has a ' that is never closed")
        case .double: throw Failure(message: "has a \" that is never closed")
        case .none: break
        }
        if inWord { words.append(word) }
        return words
    }
}
