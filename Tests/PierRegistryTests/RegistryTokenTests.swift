import Foundation
import Hummingbird
import NIOCore
import PierOCI
import Testing
@testable import PierRegistry

@Suite("registry bearer tokens")
struct RegistryTokenTests {
    let issuer = RegistryTokenIssuer(key: Data(repeating: 7, count: 32), lifetime: 60)
    let pull = RegistryAccess(type: "repository", name: "edge/sensor", actions: ["pull"])

    @Test("a token verifies until it expires and grants only what it names")
    func issueAndVerify() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let (token, lifetime) = issuer.issue(subject: "ci", access: [pull], now: now)
        #expect(lifetime == 60)
        let claims = try #require(issuer.verify(token, now: now.addingTimeInterval(59)))
        #expect(claims.sub == "ci" && claims.aud == "pier-registry")
        #expect(claims.grants(pull))
        #expect(!claims.grants(RegistryAccess(type: "repository", name: "edge/sensor", actions: ["pull", "push"])))
        #expect(!claims.grants(RegistryAccess(type: "repository", name: "edge/other", actions: ["pull"])))
        #expect(issuer.verify(token, now: now.addingTimeInterval(60)) == nil, "expired")
    }

    @Test("a tampered, foreign or malformed token is refused")
    func refusals() {
        let (token, _) = issuer.issue(subject: "ci", access: [pull])
        var parts = token.split(separator: ".").map(String.init)
        // Widen the claims without re-signing.
        let widened = RegistryTokenClaims(iss: "pier", sub: "ci", aud: "pier-registry", iat: 0, exp: Int64.max,
                                          access: [RegistryAccess(type: "repository", name: "edge/sensor", actions: ["*"])])
        parts[1] = Base64URL.encode(try! JSONEncoder().encode(widened))
        #expect(issuer.verify(parts.joined(separator: ".")) == nil)
        let other = RegistryTokenIssuer(key: Data(repeating: 8, count: 32))
        #expect(other.verify(token) == nil)
        let otherService = RegistryTokenIssuer(key: Data(repeating: 7, count: 32), service: "elsewhere")
        #expect(otherService.verify(token) == nil)
        for bad in ["", "a.b", "a.b.c", token + "x", String(token.dropLast(3))] { #expect(issuer.verify(bad) == nil, "\(bad)") }
    }

    @Test("scopes parse as type:name:actions, names may hold a port")
    func scopes() {
        #expect(RegistryAccess(scope: "repository:edge/sensor:pull,push")?.actions == ["pull", "push"])
        #expect(RegistryAccess(scope: "repository:host:5000/edge:pull")?.name == "host:5000/edge")
        for bad in ["", "repository", "repository:edge", "repository::pull", ":x:pull", "repository:edge:"] {
            #expect(RegistryAccess(scope: bad) == nil, "\(bad)")
        }
        #expect(RegistryAccess.required(for: .pushManifest(repository: "a", reference: "1"))?.actions == ["pull", "push"])
        #expect(RegistryAccess.required(for: .deleteBlob(repository: "a", digest: "d"))?.actions == ["delete"])
        #expect(RegistryAccess.required(for: .catalog)?.scope == "registry:catalog:*")
        #expect(RegistryAccess.required(for: .ping) == nil)
    }

    @Test("challenges parse with quoted and bare parameters")
    func challenges() throws {
        let c = try #require(RegistryAuthenticator.Challenge(parsing:
            #"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#))
        #expect(c.scheme == "bearer")
        #expect(c.parameters == ["realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:a/b:pull,push"])
        let basic = try #require(RegistryAuthenticator.Challenge(parsing: "Basic realm=pier"))
        #expect(basic.scheme == "basic" && basic.parameters["realm"] == "pier")
        #expect(RegistryAuthenticator.Challenge(parsing: "  ") == nil)
        let base = "https://r.example:5000"
        #expect(RegistryClient.scope(of: base + "/v2/edge/a/manifests/1", method: .GET, baseURL: base) == "repository:edge/a:pull")
        #expect(RegistryClient.scope(of: base + "/v2/edge/a/blobs/uploads/?mount=x", method: .POST, baseURL: base) == "repository:edge/a:pull,push")
        #expect(RegistryClient.scope(of: base + "/v2/_catalog?n=1", method: .GET, baseURL: base) == "registry:catalog:*")
    }

    /// The token flow Docker Hub uses, end to end against a registry whose hook takes only
    /// bearer tokens and a token endpoint beside it: the client answers the challenge with a
    /// token for the scope asked, anonymously or with credentials, and a wrong password fails
    /// clearly without storing anything.
    @Test("the client follows Bearer challenges to the token endpoint and pulls")
    func clientFollowsBearerChallenges() async throws {
        let stores = try Stores()
        let image = try await storeImage("edge/sensor:1", in: stores)
        let issuer = self.issuer
        let router = Router()
        router.get("token") { request, _ -> Response in
            let scopes = request.uri.queryParameters.getAll("scope").compactMap { RegistryAccess(scope: String($0)) }
            let basic = "Basic " + Data("ci:secret".utf8).base64EncodedString()
            let authorization = request.headers[.authorization]
            // Anonymous callers get nothing; ci:secret gets what it asks for.
            guard authorization == nil || authorization == basic else {
                return Response(status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: #"{"message":"wrong password"}"#)))
            }
            let (token, lifetime) = issuer.issue(subject: authorization == nil ? "anonymous" : "ci", access: authorization == nil ? [] : scopes)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"token":"\#(token)","expires_in":\#(lifetime)}"#)))
        }
        let configuration = RegistryRoutes<BasicRequestContext>.Configuration(authorize: { request, _, action in
            let challenge = #"Bearer realm="http://\#(request.head.authority ?? "")/token",service="pier-registry""#
                + (RegistryAccess.required(for: action).map { #",scope="\#($0.scope)""# } ?? "")
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                  let claims = issuer.verify(String(header.dropFirst(7))) else { return .unauthorized("log in", challenge: challenge) }
            if let needed = RegistryAccess.required(for: action), !claims.grants(needed) { return .denied("\(claims.sub) may not") }
            return .allow
        })
        try await withRegistry(stores, router: router, configuration: configuration, tls: nil) { base in
            let anonymous = try Stores()
            await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: anonymous) { try await $0.pull("edge/sensor:1") }
            }
            let wrong = try Stores()
            do {
                _ = try await withClient(base, into: wrong, configuration: Self.credentials("ci:nope")) { try await $0.pull("edge/sensor:1") }
                Issue.record("a wrong password pulled")
            } catch let error as RegistryClientError {
                #expect("\(error)".contains("token endpoint") && "\(error)".contains("wrong password"), "\(error)")
            }
            #expect(await wrong.images.list().isEmpty)
            let target = try Stores()
            let result = try await withClient(base, into: target, configuration: Self.credentials("ci:secret")) { try await $0.pull("edge/sensor:1") }
            #expect(result.manifest == image.manifest)
        }
    }

    static func credentials(_ text: String) -> RegistryClient.Configuration {
        var configuration = RegistryClient.Configuration()
        configuration.credentials = RegistryCredentials(parsing: text)
        return configuration
    }
}
