/// Parses the body of a compute request: a JSON array of integers (`[3,1,2]`) or the same numbers
/// separated by commas and/or whitespace (`3,1,2`, `3 1 2`).
enum IntegerList {
    /// Why a body is not a list of integers.
    enum ParseError: Error, Equatable, CustomStringConvertible {
        case notUTF8
        case unbalancedBracket
        case notAnInteger(index: Int, text: String)
        case tooMany(limit: Int)

        var description: String {
            let hint = "send a JSON array of integers like [3,1,2] or numbers separated by commas or spaces"
            switch self {
            case .notUTF8: return "the body is not UTF-8 text; \(hint)"
            case .unbalancedBracket: return "the body opens or closes a JSON array without the other bracket; \(hint)"
            case .notAnInteger(let i, let t):
                let shown = t.count > 24 ? String(t.prefix(24)) + "…" : t
                return "item \(i + 1) \"\(shown)\" is not an integer in the 64-bit range; \(hint)"
            case .tooMany(let limit): return "more than \(limit) integers; split the input or raise the server's limit"
            }
        }
    }

    /// The integers in `body`, at most `limit` of them.
    static func parse(_ body: [UInt8], limit: Int = .max) throws(ParseError) -> [Int] {
        guard let text = String(validating: body, as: UTF8.self) else { throw .notUTF8 }
        var s = Substring(text).trimmingWhitespace()
        let opens = s.first == "[", closes = s.last == "]"
        guard opens == closes else { throw .unbalancedBracket }
        if opens { s = s.dropFirst().dropLast() }
        var numbers: [Int] = []
        numbers.reserveCapacity(Swift.min(limit, body.count / 2 + 1))
        var index = 0
        let parts = s.split(separator: ",", omittingEmptySubsequences: false)
        for part in parts {
            let words = part.split(whereSeparator: \.isWhitespace)
            // Between two commas there must be something: `1,,2` is an empty item, not a separator.
            if words.isEmpty, parts.count > 1 { throw .notAnInteger(index: index, text: "") }
            for word in words {
                guard let n = Int(word) else { throw .notAnInteger(index: index, text: String(word)) }
                guard numbers.count < limit else { throw .tooMany(limit: limit) }
                numbers.append(n)
                index += 1
            }
        }
        return numbers
    }
}

extension Substring {
    fileprivate func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return s
    }
}
