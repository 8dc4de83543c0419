import Foundation
import PierOSCORE

/// The JSON of a `--coap-keys` file as written (`pier coap client create`) and read, before
/// validation into `CoAPAccessKeys`. Decoding is strict: a key that is not one of these is an
/// error naming it, so a typo never silently widens or narrows a scope.
public struct CoAPKeysFile: Codable, Sendable, Equatable {
    public var clients: [Entry]

    public init(clients: [Entry] = []) { self.clients = clients }

    public struct Entry: Codable, Sendable, Equatable {
        public var name: String
        public var oscore: OSCORE?
        public var token: String?
        public var scope: Scope

        public init(name: String, oscore: OSCORE? = nil, token: String? = nil, scope: Scope) {
            self.name = name; self.oscore = oscore; self.token = token; self.scope = scope
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case name, oscore, token, scope }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            oscore = try c.decodeIfPresent(OSCORE.self, forKey: .oscore)
            token = try c.decodeIfPresent(String.self, forKey: .token)
            scope = try c.decode(Scope.self, forKey: .scope)
        }
    }

    /// An OSCORE context in hex: the client's sender ID (`clientID`, its requests' kid) and the
    /// daemon's (`serverID`).
    public struct OSCORE: Codable, Sendable, Equatable {
        public var masterSecret: String
        public var masterSalt: String?
        public var clientID: String
        public var serverID: String
        public var idContext: String?

        public init(masterSecret: String, masterSalt: String? = nil, clientID: String, serverID: String, idContext: String? = nil) {
            self.masterSecret = masterSecret; self.masterSalt = masterSalt; self.clientID = clientID; self.serverID = serverID
            self.idContext = idContext
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case masterSecret, masterSalt, clientID, serverID, idContext }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            masterSecret = try c.decode(String.self, forKey: .masterSecret)
            masterSalt = try c.decodeIfPresent(String.self, forKey: .masterSalt)
            clientID = try c.decode(String.self, forKey: .clientID)
            serverID = try c.decode(String.self, forKey: .serverID)
            idContext = try c.decodeIfPresent(String.self, forKey: .idContext)
        }

        /// The daemon's side of the context, after checking every field.
        func serverContext(at: String) throws(ConstrainedAPIError) -> OSCORESecurityContext {
            func bytes(_ key: String, _ value: String, _ range: ClosedRange<Int>) throws(ConstrainedAPIError) -> [UInt8] {
                guard let b = CoAPKeysFile.bytes(hex: value) else { throw .invalid("\(at).\(key): \"\(value)\" is not hex (two digits per byte)") }
                guard range.contains(b.count) else { throw .invalid("\(at).\(key): \(b.count) bytes; use \(range.lowerBound) to \(range.upperBound)") }
                return b
            }
            let secret = try bytes("masterSecret", masterSecret, 16...64)
            let salt = try masterSalt.map { v throws(ConstrainedAPIError) in try bytes("masterSalt", v, 0...64) } ?? []
            let client = try bytes("clientID", clientID, 0...OSCORESecurityContext.maxIDLength)
            let server = try bytes("serverID", serverID, 0...OSCORESecurityContext.maxIDLength)
            let context = try idContext.map { v throws(ConstrainedAPIError) in try bytes("idContext", v, 0...32) }
            guard client != server else { throw .invalid("\(at): clientID and serverID must differ") }
            do {
                return try OSCORESecurityContext(masterSecret: secret, masterSalt: salt, senderID: server, recipientID: client, idContext: context)
            } catch {
                throw .invalid("\(at): \(error)")
            }
        }
    }

    public struct Scope: Codable, Sendable, Equatable {
        public var services: [String]
        public var verbs: [String]
        public var allow: [String]?

        public init(services: [String], verbs: [String], allow: [String]? = nil) {
            self.services = services; self.verbs = verbs; self.allow = allow
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case services, verbs, allow }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            services = try c.decode([String].self, forKey: .services)
            verbs = try c.decode([String].self, forKey: .verbs)
            allow = try c.decodeIfPresent([String].self, forKey: .allow)
        }

        func validated(at: String) throws(ConstrainedAPIError) -> CoAPScope {
            guard !services.isEmpty else { throw .invalid("\(at).services: list at least one service name or pattern (\"*\" for all)") }
            for s in services where !CoAPKeysFile.isValidServicePattern(s) {
                throw .invalid("\(at).services: \"\(s)\" is not a service name or a pattern with one '*'")
            }
            guard !verbs.isEmpty else { throw .invalid("\(at).verbs: list the verbs it may use: \(CoAPVerb.allCases.map(\.rawValue).joined(separator: ", "))") }
            var v = Set<CoAPVerb>()
            for name in verbs {
                guard let verb = CoAPVerb(rawValue: name) else {
                    throw .invalid("\(at).verbs: \"\(name)\" is not one of \(CoAPVerb.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                v.insert(verb)
            }
            var a = Set<CoAPPermission>()
            for name in allow ?? [] {
                guard let p = CoAPPermission(rawValue: name) else {
                    throw .invalid("\(at).allow: \"\(name)\" is not one of \(CoAPPermission.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                a.insert(p)
            }
            return CoAPScope(services: services, verbs: v, allow: a)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case clients }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clients = try c.decode([Entry].self, forKey: .clients)
    }

    /// Decodes a file's bytes; the old line format gets an error saying what changed.
    public static func decode(_ data: Data, source: String) throws(ConstrainedAPIError) -> CoAPKeysFile {
        let text = String(decoding: data, as: UTF8.self)
        let first = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        if let first, !first.hasPrefix("{") {
            throw .invalid(
                "\(source): this is not JSON\(first.hasPrefix("#") || first.split(separator: " ").count >= 2 ? " but the old line format (CLIENT TOKEN [ro|rw])" : ""). "
                    + "The CoAP keys file is JSON now, with an OSCORE context and a scope for each client: make entries with "
                    + "`pier coap client create`, and see docs/coap-api.md")
        }
        do {
            return try JSONDecoder().decode(CoAPKeysFile.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw .invalid("\(source): \(path(context.codingPath + [key])): missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .invalid("\(source): \(path(context.codingPath)): wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .invalid("\(source): \(path(context.codingPath)): missing")
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalid("\(source): \(context.codingPath.isEmpty ? "" : path(context.codingPath) + ": ")\(context.debugDescription)"
                + (context.codingPath.isEmpty ? " (not valid JSON)" : ""))
        } catch {
            throw .invalid("\(source): \(error)")
        }
    }

    /// The file's bytes, pretty-printed with sorted keys.
    public func encoded() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try e.encode(self) + Data("\n".utf8)
    }

    static func path(_ keys: [any CodingKey]) -> String {
        let text = keys.map { key -> String in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
        return String(text.drop(while: { (c: Character) in c == "." }))
    }

    static func isValidName(_ s: String) -> Bool {
        (1...64).contains(s.utf8.count) && s.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    static func isValidServicePattern(_ s: String) -> Bool {
        let stars = s.filter { $0 == "*" }.count
        return stars <= 1 && (s == "*" || isValidName(s.replacingOccurrences(of: "*", with: "x")))
    }

    /// Bytes from hex (even length, no separators); nil if it is not hex.
    public static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }

    public static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws `dataCorrupted` naming the first key of the object at `decoder` that `Keys` does not list.
private func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ decoder: any Decoder, _: Keys.Type) throws {
    let known = Set(Keys.allCases.map(\.stringValue))
    let c = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = c.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw DecodingError.dataCorrupted(
            .init(codingPath: decoder.codingPath, debugDescription: "unknown key \"\(unknown)\"; expected \(known.sorted().joined(separator: ", "))"))
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
