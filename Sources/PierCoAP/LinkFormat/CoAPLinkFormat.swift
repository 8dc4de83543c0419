/// CoRE Link Format (RFC 6690): the `application/link-format` body of `/.well-known/core`,
/// content format 40.
public enum CoAPLinkFormat {
    /// Attributes whose value is a space-separated list, matched per item when filtering.
    static let spaceSeparated: Set<String> = ["rt", "if", "ct", "rel"]
    /// Attributes written without quotes when their value is a single token.
    static let unquoted: Set<String> = ["ct", "sz"]

    /// The link-format document for `links`, comma-separated.
    public static func serialize(_ links: [CoAPLink]) -> String {
        links.map { link in
            "<\(link.target)>"
                + link.attributes.map { a in
                    guard let v = a.value else { return ";\(a.name)" }
                    if unquoted.contains(a.name), !v.isEmpty, v.allSatisfy(\.isNumber) { return ";\(a.name)=\(v)" }
                    return ";\(a.name)=\"\(v.escapingQuotes())\""
                }.joined()
        }.joined(separator: ",")
    }

    /// The links matching every `name=value` query argument (§4.1): `href` matches the target,
    /// other names match an attribute value (any item of a space-separated one); a trailing `*`
    /// matches a prefix; a bare `name` matches links that have the attribute.
    public static func filter(_ links: [CoAPLink], query: [String]) -> [CoAPLink] {
        let filters = query.map { q -> (String, String?) in
            guard let eq = q.firstIndex(of: "=") else { return (q, nil) }
            return (String(q[..<eq]), String(q[q.index(after: eq)...]))
        }
        return links.filter { link in
            filters.allSatisfy { name, pattern in
                guard let pattern else { return link.has(name) }
                let candidates = name == "href" ? [link.target] : link.values(name)
                return candidates.contains { matches($0, pattern) }
            }
        }
    }

    static func matches(_ value: String, _ pattern: String) -> Bool {
        if pattern.hasSuffix("*") { return value.hasPrefix(pattern.dropLast()) }
        return value == pattern
    }

    /// Parses a link-format document; throws on a link that does not start with `<`.
    public static func parse(_ text: String) throws(CoAPLinkFormatError) -> [CoAPLink] {
        var links: [CoAPLink] = []
        for part in splitOutsideQuotes(text, on: ",") {
            let trimmed = part.trimmingSpaces()
            if trimmed.isEmpty { continue }
            guard trimmed.hasPrefix("<"), let close = trimmed.firstIndex(of: ">") else {
                throw .malformedLink(String(trimmed.prefix(64)))
            }
            let target = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            var attributes: [CoAPLink.Attribute] = []
            for param in splitOutsideQuotes(String(trimmed[trimmed.index(after: close)...]), on: ";") {
                let p = param.trimmingSpaces()
                if p.isEmpty { continue }
                if let eq = p.firstIndex(of: "=") {
                    var v = String(p[p.index(after: eq)...])
                    if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") {
                        v = String(v.dropFirst().dropLast()).unescapingQuotes()
                    }
                    attributes.append(.init(String(p[..<eq]), v))
                } else {
                    attributes.append(.init(String(p)))
                }
            }
            links.append(CoAPLink(target: target, attributes: attributes))
        }
        return links
    }

    private static func splitOutsideQuotes(_ s: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for c in s {
            if escaped {
                escaped = false
            } else if c == "\\" && quoted {
                escaped = true
            } else if c == "\"" {
                quoted.toggle()
            } else if c == separator && !quoted {
                parts.append(current)
                current = ""
                continue
            }
            current.append(c)
        }
        parts.append(current)
        return parts
    }
}

/// Why a link-format document could not be read.
public enum CoAPLinkFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A link that is not `<target>;attributes`.
    case malformedLink(String)

    public var description: String {
        switch self {
        case .malformedLink(let s): "link-format entry \"\(s)\" does not start with <target>; expected RFC 6690 syntax"
        }
    }
}

extension String {
    func escapingQuotes() -> String {
        var out = ""
        for c in self {
            if c == "\"" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    func unescapingQuotes() -> String {
        var out = ""
        var escaped = false
        for c in self {
            if !escaped, c == "\\" {
                escaped = true
                continue
            }
            escaped = false
            out.append(c)
        }
        return out
    }

    func trimmingSpaces() -> Substring {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        String(self).trimmingSpaces()
    }
}
