import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import PierCluster
import PierPKI
import PierRegistry

/// Who may use the manager's registry without a cluster certificate: named credentials (kept
/// as digests in the state store) exchanged for short-lived bearer tokens at
/// `GET /v1/registry/token`, the Docker token flow that `docker login`, skopeo and Pier's own
/// client follow; and, when the cluster allows it, anonymous pulls.
public actor RegistryAccessControl {
    let manager: Manager
    /// Pulls need no credential (pushes and deletes still do).
    public let anonymousPull: Bool
    private let issuer: RegistryTokenIssuer

    static let credentialPrefix = "registry.credential."
    /// Where an older version kept the token signing key, in the state store.
    static let legacyKeyName = "registry.tokenKey"
    static let secretPrefix = "pier_"

    /// - Parameter keyFile: the token signing key (32 random bytes, mode 0600), made on first
    ///   start; a key an older version kept in the state store moves there.
    public init(manager: Manager, keyFile: URL, anonymousPull: Bool) async throws {
        self.manager = manager
        self.anonymousPull = anonymousPull
        let key: Data
        if let stored = try? Data(contentsOf: keyFile) {
            guard stored.count == 32 else {
                throw ManagerError.failed("\(keyFile.path) holds \(stored.count) bytes, not a 32-byte registry token key; remove it to make a new one (tokens issued so far stop working)")
            }
            key = stored
        } else {
            if let text = await manager.metaValue(Self.legacyKeyName), let stored = Data(base64Encoded: text), stored.count == 32 {
                key = stored
            } else {
                key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            }
            try SecretFile.write(key, to: keyFile)
        }
        if await manager.metaValue(Self.legacyKeyName) != nil { try await manager.deleteMeta(Self.legacyKeyName) }
        issuer = RegistryTokenIssuer(key: key)
    }

    // MARK: Credentials

    /// Makes a credential; the secret is returned this once.
    public func create(_ request: RegistryCredentialRequest, now: Date = Date()) async throws -> RegistryCredentialCreated {
        guard Identifiers.isValidName(request.name) else {
            throw ManagerError.invalid("name: \"\(request.name)\" must be letters, digits, '-' and '_' (up to 63)")
        }
        if let seconds = request.expiresIn, seconds <= 0 {
            throw ManagerError.invalid("expiresIn: \(seconds) must be a positive number of seconds")
        }
        guard await manager.metaValue(Self.credentialPrefix + request.name) == nil else {
            throw ManagerError.conflict("registry credential \(request.name) exists; remove it first to replace it")
        }
        let secret = Self.secretPrefix + RandomID.make(length: 32)
        let stored = StoredCredential(
            name: request.name, push: request.push, createdAt: now,
            expiresAt: request.expiresIn.map { now.addingTimeInterval(TimeInterval($0)) }, sha256: SecretDigest.sha256(secret))
        try await manager.setMeta(Self.credentialPrefix + request.name, try stored.encoded())
        return RegistryCredentialCreated(credential: stored.info, secret: secret)
    }

    public func list() async -> [RegistryCredentialInfo] {
        await manager.metaValues(prefix: Self.credentialPrefix).compactMap { StoredCredential.decode($0)?.info }.sorted { $0.name < $1.name }
    }

    /// Removes a credential; tokens issued for it lapse within their lifetime.
    public func remove(_ name: String) async throws {
        guard await manager.metaValue(Self.credentialPrefix + name) != nil else {
            throw ManagerError.notFound("no registry credential named \(name)")
        }
        try await manager.deleteMeta(Self.credentialPrefix + name)
    }

    /// The credential `name` whose secret is `secret` and that has not expired.
    func authenticate(name: String, secret: String, now: Date = Date()) async -> StoredCredential? {
        guard let text = await manager.metaValue(Self.credentialPrefix + name), let stored = StoredCredential.decode(text) else {
            // Hash anyway, so an unknown name takes as long as a wrong secret.
            _ = SecretDigest.sha256(secret)
            return nil
        }
        guard SecretDigest.equal(stored.sha256, SecretDigest.sha256(secret)) else { return nil }
        if let expiry = stored.expiresAt, expiry <= now { return nil }
        return stored
    }

    // MARK: Tokens

    /// `GET /v1/registry/token?service=…&scope=…` with HTTP Basic credentials, or none for an
    /// anonymous pull token: a token granting what was asked for and the credential allows.
    public func token(authorization: String?, service: String?, scopes: [String], now: Date = Date()) async throws -> RegistryTokenResponse {
        if let service, service != issuer.service {
            throw ManagerError.invalid("service \"\(service)\": this token endpoint issues tokens for \"\(issuer.service)\"")
        }
        let subject: String
        let allowed: Set<String>
        if let authorization {
            guard let (name, secret) = Self.basicCredentials(authorization) else {
                throw ManagerError.unauthorized("the token endpoint takes HTTP Basic credentials: a registry credential's name and secret")
            }
            guard let credential = await authenticate(name: name, secret: secret, now: now) else {
                throw ManagerError.unauthorized("registry credential \(name) is unknown, expired or its secret is wrong")
            }
            subject = credential.name
            allowed = credential.push ? ["pull", "push", "delete", "*"] : ["pull"]
        } else if anonymousPull {
            subject = "anonymous"
            allowed = ["pull"]
        } else {
            throw ManagerError.unauthorized("anonymous pulls are off on this cluster; log in with a registry credential (pier registry credential create)")
        }
        var access: [RegistryAccess] = []
        for text in scopes {
            guard let requested = RegistryAccess(scope: text) else {
                throw ManagerError.invalid("scope \"\(text)\": expected TYPE:NAME:ACTIONS, e.g. repository:edge/sensor:pull")
            }
            let isCatalog = requested.type == "registry" && requested.name == "catalog"
            guard requested.type == "repository" || isCatalog else { continue }
            // The catalog lists every repository: push credentials only.
            let granted = requested.actions.filter { allowed.contains($0) && (!isCatalog || allowed.contains("push")) }
            if !granted.isEmpty { access.append(RegistryAccess(type: requested.type, name: requested.name, actions: granted)) }
        }
        let (token, lifetime) = issuer.issue(subject: subject, access: access, now: now)
        return RegistryTokenResponse(token: token, accessToken: token, expiresIn: lifetime, issuedAt: ISO8601DateFormatter().string(from: now))
    }

    /// The registry's decision for a request that came without a cluster certificate.
    func authorize(_ request: Request, action: RegistryAction) async -> RegistryAuthorization {
        let needed = RegistryAccess.required(for: action)
        let challenge = Self.challenge(request: request, service: issuer.service, needed: needed)
        if let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") {
            guard let claims = issuer.verify(String(header.dropFirst("bearer ".count)).trimmingCharacters(in: .whitespaces)) else {
                return .unauthorized("the bearer token is not valid or has expired", challenge: challenge)
            }
            if let needed, !claims.grants(needed) {
                let missing = needed.actions.filter { !claims.grants(RegistryAccess(type: needed.type, name: needed.name, actions: [$0])) }
                return .denied("\(claims.sub) may not \(missing.joined(separator: ",")) \(needed.name)"
                    + (missing.contains("push") ? " (a pull-only credential; create one with --push)" : ""))
            }
            return .allow
        }
        if anonymousPull, needed == nil || needed?.actions == ["pull"] { return .allow }
        return .unauthorized(
            "present a cluster certificate or log in with a registry credential (pier registry credential create NAME)",
            challenge: challenge)
    }

    // MARK: Helpers

    /// `Bearer realm="https://HOST/v1/registry/token",service="…",scope="…"`, with the host the
    /// client used to reach us.
    static func challenge(request: Request, service: String, needed: RegistryAccess?) -> String {
        let host = request.head.authority ?? "localhost"
        var text = "Bearer realm=\"https://\(host)/v1/registry/token\",service=\"\(service)\""
        if let needed { text += ",scope=\"\(needed.scope)\"" }
        return text
    }

    static func basicCredentials(_ header: String) -> (String, String)? {
        guard header.lowercased().hasPrefix("basic "),
              let data = Data(base64Encoded: String(header.dropFirst("basic ".count)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// A credential as kept in the state store: the digest of its secret, never the secret.
struct StoredCredential: Codable {
    var name: String
    var push: Bool
    var createdAt: Date
    var expiresAt: Date?
    var sha256: String

    var info: RegistryCredentialInfo {
        RegistryCredentialInfo(name: name, access: push ? "push" : "pull", createdAt: createdAt, expiresAt: expiresAt)
    }

    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decode(_ text: String) -> StoredCredential? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(StoredCredential.self, from: Data(text.utf8))
    }
}

/// The token endpoint's answer, in the Docker token specification's shape.
public struct RegistryTokenResponse: Codable, Sendable {
    public var token: String
    public var accessToken: String
    public var expiresIn: Int
    public var issuedAt: String

    enum CodingKeys: String, CodingKey {
        case token
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case issuedAt = "issued_at"
    }
}

/// Secrets the manager keeps only as digests (join tokens, registry credentials): SHA-256 in hex,
/// compared in constant time.
enum SecretDigest {
    static func sha256(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
