import Crypto
import Foundation
import PierCoAP
import PierOSCORE

/// Who may use the constrained interface, and for what: the `--coap-keys` file, JSON, readable by
/// its owner only (mode 600).
///
///     {"clients": [
///       {"name": "sensor-12",
///        "oscore": {"masterSecret": "…32 bytes in hex…", "masterSalt": "9e7ca92223786340",
///                   "clientID": "5a01", "serverID": "01"},
///        "scope": {"services": ["sensor-*"], "verbs": ["list", "status", "activate", "stop"],
///                  "allow": ["devices"]}}
///     ]}
///
/// Each client has an OSCORE context (RFC 8613; `clientID` is the client's sender ID, the kid
/// of its requests, and `serverID` the daemon's; `idContext` is optional) or, only when the
/// daemon runs with `--coap-insecure-token`, a `token` sent in clear in option 65001. `pier coap
/// client create` writes entries. The scope lists the services (names, or patterns with one
/// `*`), the verbs (`CoAPVerb`) and what activations may ask for (`CoAPPermission`; none by
/// default). Unknown keys, bad hex, duplicate names or IDs are errors naming the client and key.
public struct CoAPAccessKeys: Sendable {
    /// `Pier-Auth`, from the experimental range of RFC 7252 §12.2; critical.
    public static let tokenOption = CoAPOptionNumber(65001)

    /// One client: its name, how it authenticates and its scope.
    public struct Client: Sendable, Equatable {
        public var name: String
        public var scope: CoAPScope
        /// The server's side of its OSCORE context; nil for a token client.
        public var oscore: OSCORESecurityContext?

        public init(name: String, scope: CoAPScope, oscore: OSCORESecurityContext? = nil) {
            self.name = name
            self.scope = scope
            self.oscore = oscore
        }
    }

    public let clients: [Client]
    /// Whether token clients were accepted (`--coap-insecure-token`).
    public let allowsTokens: Bool
    private let tokens: [(digest: [UInt8], client: Int)]

    /// Every client name, for logs.
    public var clientNames: [String] { clients.map(\.name) }

    /// The server sides of the OSCORE contexts, by client name.
    public var oscoreContexts: [(name: String, context: OSCORESecurityContext)] {
        clients.compactMap { c in c.oscore.map { (c.name, $0) } }
    }

    /// The client called `name`.
    public func client(named name: String) -> Client? { clients.first { $0.name == name } }

    /// The token client whose token `message` carries, compared in constant time; nil if none
    /// matches or tokens are not allowed.
    public func tokenClient(for message: CoAPMessage) -> Client? {
        guard allowsTokens, let value = message.option(Self.tokenOption)?.value else { return nil }
        let digest = Array(SHA256.hash(data: value))
        var found: Int?
        for entry in tokens {
            var difference: UInt8 = 0
            for (a, b) in zip(entry.digest, digest) { difference |= a ^ b }
            if difference == 0 { found = entry.client }
        }
        return found.map { clients[$0] }
    }

    /// Reads a keys file. It must be readable by its owner only (like an ssh key): a key others
    /// can read is no secret.
    public static func load(_ path: String, allowTokens: Bool) throws(ConstrainedAPIError) -> CoAPAccessKeys {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .invalid("--coap-keys \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .invalid("--coap-keys \(path): group or others may read it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .invalid("--coap-keys \(path): cannot read it")
        }
        return try parse(data, source: path, allowTokens: allowTokens)
    }

    public static func parse(_ data: Data, source: String, allowTokens: Bool) throws(ConstrainedAPIError) -> CoAPAccessKeys {
        let file = try CoAPKeysFile.decode(data, source: source)
        var clients: [Client] = []
        var tokens: [(digest: [UInt8], client: Int)] = []
        var names = Set<String>(), tokenValues = Set<String>()
        for (i, entry) in file.clients.enumerated() {
            let at = "\(source): clients[\(i)]" + (entry.name.isEmpty ? "" : " (\(entry.name))")
            guard CoAPKeysFile.isValidName(entry.name) else {
                throw .invalid("\(at): name: use 1 to 64 letters, digits, '.', '_' or '-'")
            }
            guard names.insert(entry.name).inserted else { throw .invalid("\(at): the name \(entry.name) is listed twice") }
            let scope = try entry.scope.validated(at: "\(at): scope")
            var client = Client(name: entry.name, scope: scope, oscore: nil)
            switch (entry.oscore, entry.token) {
            case (let o?, nil):
                client.oscore = try o.serverContext(at: "\(at): oscore")
            case (nil, let token?):
                guard allowTokens else {
                    throw .invalid(
                        "\(at): has a token, which travels in clear and can be replayed by anyone who sees it; such clients are "
                            + "refused unless the daemon runs with --coap-insecure-token. Give it an OSCORE context instead "
                            + "(pier coap client create), see docs/coap-api.md")
                }
                guard token.utf8.count >= 16, token.utf8.count <= 255 else {
                    throw .invalid("\(at): token: use 16 to 255 bytes (e.g. openssl rand -hex 16)")
                }
                guard tokenValues.insert(token).inserted else { throw .invalid("\(at): two clients share one token") }
                tokens.append((Array(SHA256.hash(data: Array(token.utf8))), clients.count))
            case (nil, nil):
                throw .invalid("\(at): give it an \"oscore\" context (pier coap client create makes one)")
            case (_?, _?):
                throw .invalid("\(at): has both an oscore context and a token; keep the oscore context")
            }
            clients.append(client)
        }
        guard !clients.isEmpty else { throw .invalid("\(source): no clients; add one with pier coap client create") }
        do {
            _ = try OSCOREServerState(clients: clients.compactMap { c in c.oscore.map { (c.name, $0) } }, reserved: [:], echo: { [] })
        } catch {
            throw .invalid("\(source): \(error)")
        }
        return CoAPAccessKeys(clients: clients, allowsTokens: allowTokens, tokens: tokens)
    }

    private init(clients: [Client], allowsTokens: Bool, tokens: [(digest: [UInt8], client: Int)]) {
        self.clients = clients
        self.allowsTokens = allowsTokens
        self.tokens = tokens
    }

    /// Keys for tests and embedders: clients with scopes and, optionally, tokens.
    public init(clients: [Client], tokens: [String: String] = [:]) {
        self.clients = clients
        self.allowsTokens = !tokens.isEmpty
        self.tokens = tokens.compactMap { name, token in
            clients.firstIndex { $0.name == name }.map { (Array(SHA256.hash(data: Array(token.utf8))), $0) }
        }
    }
}
