/// An image reference, `[domain/]path[:tag][@digest]`, parsed and normalized as Docker does
/// (distribution/reference): `busybox` is `docker.io/library/busybox:latest`.
public struct ImageReference: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Registry host and optional port, e.g. `docker.io`, `localhost:5000`.
    public let domain: String
    /// Repository path below the domain, e.g. `library/busybox`.
    public let path: String
    /// The tag; `latest` when neither a tag nor a digest was given.
    public let tag: String?
    public let digest: Digest?

    public static let defaultDomain = "docker.io"
    public static let officialRepositoryPrefix = "library/"
    public static let defaultTag = "latest"

    /// Parses `string`; throws `ReferenceError` naming what is wrong with it.
    public init(parsing string: String) throws(ReferenceError) {
        guard !string.isEmpty else { throw .empty }
        guard string.count <= 512 else { throw .tooLong(string) }
        var remainder = Substring(string)
        var digest: Digest?
        if let at = remainder.firstIndex(of: "@") {
            let digestString = String(remainder[remainder.index(after: at)...])
            do { digest = try Digest(parsing: digestString) } catch { throw .invalidDigest(string, error) }
            remainder = remainder[..<at]
        }
        var tag: String?
        // A colon after the last slash starts the tag; one before it belongs to a host:port.
        let lastSlash = remainder.lastIndex(of: "/")
        if let colon = remainder.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let candidate = String(remainder[remainder.index(after: colon)...])
            guard Self.isValidTag(candidate) else { throw .invalidTag(string, candidate) }
            tag = candidate
            remainder = remainder[..<colon]
        }
        let name = String(remainder)
        guard !name.isEmpty else { throw .invalidName(string, reason: "the repository name is empty") }

        var domain = Self.defaultDomain
        var path = name
        if let slash = name.firstIndex(of: "/") {
            let first = String(name[..<slash])
            if Self.looksLikeHost(first) {
                guard Self.isValidDomain(first) else {
                    throw .invalidName(string, reason: "\"\(first)\" is not a valid registry host")
                }
                domain = first
                path = String(name[name.index(after: slash)...])
            }
        }
        if domain == "index.docker.io" { domain = Self.defaultDomain }
        guard path == path.lowercased() else {
            throw .invalidName(string, reason: "repository names must be lowercase")
        }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components where !Self.isValidPathComponent(component) {
            throw .invalidName(string, reason: "\"\(component)\" is not a valid path component (lowercase letters, digits, and . _ __ - between them)")
        }
        if domain == Self.defaultDomain && components.count == 1 {
            if Digest.isSHA256Hex(path) {
                throw .invalidName(string, reason: "a 64-character hex string is an image id, not a repository name")
            }
            path = Self.officialRepositoryPrefix + path
        }
        // The limit is on the full name (`docker.io/library/…`), as Docker's: the name images are
        // stored under must parse again.
        guard domain.utf8.count + 1 + path.utf8.count <= 255 else { throw .tooLong(string) }
        if tag == nil && digest == nil { tag = Self.defaultTag }
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// Builds a reference from its parts, validating them as `init(parsing:)` does.
    public init(name: String, tag: String? = nil, digest: Digest? = nil) throws(ReferenceError) {
        var string = name
        if let tag { string += ":" + tag }
        if let digest { string += "@" + digest.description }
        try self.init(parsing: string)
    }

    /// `domain/path`, e.g. `docker.io/library/busybox`.
    public var name: String { "\(domain)/\(path)" }

    /// The name as Docker shows it: `busybox`, `myorg/app`, `localhost:5000/app`.
    public var familiarName: String {
        guard domain == Self.defaultDomain else { return name }
        if path.hasPrefix(Self.officialRepositoryPrefix) {
            let rest = path.dropFirst(Self.officialRepositoryPrefix.count)
            if !rest.contains("/") { return String(rest) }
        }
        // `docker.io/a.b/c` shown as `a.b/c` would be read back as repository `c` on host `a.b`.
        if let first = path.split(separator: "/").first, Self.looksLikeHost(String(first)) { return name }
        return path
    }

    /// The full form, e.g. `docker.io/library/busybox:latest`; the key under which images are stored.
    public var canonical: String { name + suffix }

    /// The short form, e.g. `busybox:latest`.
    public var display: String { familiarName + suffix }

    public var description: String { display }

    private var suffix: String {
        (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// The same repository with another tag and no digest.
    public func withTag(_ tag: String) throws(ReferenceError) -> ImageReference {
        try ImageReference(name: name, tag: tag)
    }

    /// The same repository and tag without the digest.
    public var withoutDigest: ImageReference {
        (try? ImageReference(name: name, tag: tag ?? Self.defaultTag)) ?? self
    }

    // MARK: Grammar (distribution/reference regexp.go)

    /// Whether the first component of a name is a registry host rather than part of the
    /// repository path: it has a dot or a port, is `localhost`, or has uppercase letters.
    static func looksLikeHost(_ first: String) -> Bool {
        first.contains(".") || first.contains(":") || first == "localhost" || first != first.lowercased()
    }

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard (1...128).contains(bytes.count) else { return false }
        func word(_ c: UInt8) -> Bool { isAlnum(c) || c == UInt8(ascii: "_") }
        guard word(bytes[0]) else { return false }
        return bytes.dropFirst().allSatisfy { word($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        guard let first = bytes.first, let last = bytes.last, isLowerAlnum(first), isLowerAlnum(last) else { return false }
        var i = 0
        while i < bytes.count {
            if isLowerAlnum(bytes[i]) { i += 1; continue }
            // A separator: ".", "_", "__" or one or more "-".
            var j = i
            if bytes[i] == UInt8(ascii: ".") {
                j += 1
            } else if bytes[i] == UInt8(ascii: "_") {
                j += 1
                if j < bytes.count && bytes[j] == UInt8(ascii: "_") { j += 1 }
            } else if bytes[i] == UInt8(ascii: "-") {
                while j < bytes.count && bytes[j] == UInt8(ascii: "-") { j += 1 }
            } else {
                return false
            }
            guard j < bytes.count, isLowerAlnum(bytes[j]) else { return false }
            i = j
        }
        return true
    }

    /// A host name (labels of letters, digits and inner hyphens, dot-separated) or a bracketed
    /// IPv6 address, with an optional port.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inside = host[host.index(after: host.startIndex)..<close]
            guard !inside.isEmpty, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isValidPort(host.dropFirst())
        }
        if let colon = host.lastIndex(of: ":") {
            guard isValidPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let b = Array(label.utf8)
            guard let f = b.first, let l = b.last, isAlnum(f), isAlnum(l) else { return false }
            return b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isValidPort(_ port: Substring) -> Bool {
        !port.isEmpty && port.count <= 5 && port.allSatisfy { $0.isASCII && $0.isNumber }
    }

    private static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        isLowerAlnum(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
}

extension ImageReference {
    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        do { try self.init(parsing: string) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(canonical)
    }
}
