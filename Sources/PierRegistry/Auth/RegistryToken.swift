import Crypto
import Foundation

/// What a bearer token lets its holder do, in the Docker token specification's terms: a
/// resource type and name and the actions on it, e.g. `repository:edge/sensor:pull,push`.
public struct RegistryAccess: Sendable, Hashable, Codable {
    public var type: String
    public var name: String
    public var actions: [String]

    public init(type: String, name: String, actions: [String]) {
        self.type = type; self.name = name; self.actions = actions
    }

    /// Parses one `scope` parameter (`type:name:actions`); the name may hold colons (a port).
    public init?(scope: String) {
        guard let first = scope.firstIndex(of: ":"), let last = scope.lastIndex(of: ":"), first < last else { return nil }
        type = String(scope[..<first])
        name = String(scope[scope.index(after: first)..<last])
        actions = scope[scope.index(after: last)...].split(separator: ",").map(String.init)
        guard !type.isEmpty, !name.isEmpty, !actions.isEmpty else { return nil }
    }

    public var scope: String { "\(type):\(name):\(actions.joined(separator: ","))" }

    /// The access a registry action needs: pull to read a repository, push to write, delete to
    /// delete; the catalog is `registry:catalog:*`. Nil for the ping (any valid token will do).
    public static func required(for action: RegistryAction) -> RegistryAccess? {
        switch action {
        case .ping, .unsupported: return nil
        case .catalog: return RegistryAccess(type: "registry", name: "catalog", actions: ["*"])
        case .listTags(let r), .pullManifest(let r, _), .pullBlob(let r, _), .listReferrers(let r, _), .pullDelta(let r, _):
            return RegistryAccess(type: "repository", name: r, actions: ["pull"])
        case .startUpload(let r), .upload(let r, _), .pushManifest(let r, _):
            return RegistryAccess(type: "repository", name: r, actions: ["pull", "push"])
        case .deleteManifest(let r, _), .deleteBlob(let r, _):
            return RegistryAccess(type: "repository", name: r, actions: ["delete"])
        }
    }
}

/// The claims of a bearer token: who, for which service, until when, allowed what.
public struct RegistryTokenClaims: Sendable, Codable, Equatable {
    public var iss: String
    public var sub: String
    public var aud: String
    public var iat: Int64
    public var exp: Int64
    public var access: [RegistryAccess]

    /// Whether the claims grant every action of `needed` (a `*` action grants all).
    public func grants(_ needed: RegistryAccess) -> Bool {
        needed.actions.allSatisfy { action in
            access.contains { $0.type == needed.type && $0.name == needed.name && ($0.actions.contains(action) || $0.actions.contains("*")) }
        }
    }
}

/// Issues and checks the registry's bearer tokens: JWTs (RFC 7519) signed with HMAC-SHA256 under
/// a key only the manager holds. Short-lived, so a revoked credential stops working within
/// `lifetime`; the registry and the token endpoint are the same process, so no key is shared.
public struct RegistryTokenIssuer: Sendable {
    public static let issuer = "pier"
    /// The HMAC key's bytes (`SymmetricKey` is not `Sendable`; one is made per use).
    let keyBytes: Data
    /// The `service` the tokens are for (the `aud` claim).
    public let service: String
    public let lifetime: TimeInterval

    public init(key: Data, service: String = "pier-registry", lifetime: TimeInterval = 900) {
        self.keyBytes = key
        self.service = service
        self.lifetime = lifetime
    }

    /// A token for `subject` granting `access`, and its lifetime in seconds.
    public func issue(subject: String, access: [RegistryAccess], now: Date = Date()) -> (token: String, expiresIn: Int) {
        let iat = Int64(now.timeIntervalSince1970)
        let claims = RegistryTokenClaims(iss: Self.issuer, sub: subject, aud: service, iat: iat, exp: iat + Int64(lifetime), access: access)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding these plain structs cannot fail.
        let payload = (try? encoder.encode(claims)) ?? Data()
        let signingInput = Self.header + "." + Base64URL.encode(payload)
        let signature = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: keyBytes))
        return (signingInput + "." + Base64URL.encode(Data(signature)), Int(lifetime))
    }

    /// The claims of `token` if this issuer signed it, it is for this service and it has not
    /// expired; nil otherwise.
    public func verify(_ token: String, now: Date = Date()) -> RegistryTokenClaims? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.header, let payload = Base64URL.decode(String(parts[1])),
              let signature = Base64URL.decode(String(parts[2])) else { return nil }
        let signingInput = Data((parts[0] + "." + parts[1]).utf8)
        // isValidAuthenticationCode compares in constant time.
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: SymmetricKey(data: keyBytes)),
              let claims = try? JSONDecoder().decode(RegistryTokenClaims.self, from: payload),
              claims.iss == Self.issuer, claims.aud == service,
              Int64(now.timeIntervalSince1970) < claims.exp else { return nil }
        return claims
    }

    /// `{"alg":"HS256","typ":"JWT"}`, base64url.
    static let header = Base64URL.encode(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
