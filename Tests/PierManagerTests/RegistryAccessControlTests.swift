import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PierCluster
import PierRegistry
import Testing
@testable import PierManager

/// Registry credentials and the bearer tokens they buy, against a real manager's state store:
/// what is stored, who gets which token, and what each token lets through.
@Suite struct RegistryAccessControlTests {
    static func withAccess(anonymousPull: Bool = false, _ body: (RegistryAccessControl, Manager, URL) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let access = try await RegistryAccessControl(manager: manager, keyFile: dir.appendingPathComponent("registry-token.key"), anonymousPull: anonymousPull)
            try await body(access, manager, dir)
        }
    }

    static func basic(_ name: String, _ secret: String) -> String {
        "Basic " + Data("\(name):\(secret)".utf8).base64EncodedString()
    }

    /// A registry request as the registry routes hand it over, with an optional Authorization header.
    static func request(_ authorization: String? = nil) -> Request {
        var fields = HTTPFields()
        if let authorization { fields[.authorization] = authorization }
        let head = HTTPRequest(method: .get, scheme: "https", authority: "manager:4443", path: "/v2/edge/app/manifests/1", headerFields: fields)
        return Request(head: head, body: RequestBody(buffer: ByteBuffer()))
    }

    static let pull = RegistryAction.pullManifest(repository: "edge/app", reference: "1")
    static let push = RegistryAction.pushManifest(repository: "edge/app", reference: "1")

    @Test func credentialsAreValidatedAndOnlyTheirDigestIsStored() async throws {
        try await Self.withAccess { access, manager, dir in
            let created = try await access.create(RegistryCredentialRequest(name: "ci", push: true))
            #expect(created.secret.hasPrefix("pier_") && created.secret.count > 30)
            #expect(created.credential.name == "ci" && created.credential.access == "push")
            let stored = try #require(await manager.metaValue(RegistryAccessControl.credentialPrefix + "ci"))
            #expect(!stored.contains(created.secret), "the secret itself was stored")
            #expect(stored.contains(SecretDigest.sha256(created.secret)))
            // The key file is private and 32 bytes.
            let key = dir.appendingPathComponent("registry-token.key")
            #expect(try Data(contentsOf: key).count == 32)
            #expect(try FileManager.default.attributesOfItem(atPath: key.path)[.posixPermissions] as? Int == 0o600)

            func refusal(_ body: () async throws -> Void) async -> String {
                do { try await body(); return "accepted" } catch { return "\(error)" }
            }
            #expect(await refusal { _ = try await access.create(RegistryCredentialRequest(name: "ci", push: false)) }
                .contains("registry credential ci exists; remove it first to replace it"))
            #expect(await refusal { _ = try await access.create(RegistryCredentialRequest(name: "bad name!", push: false)) }.contains("name: \"bad name!\""))
            #expect(await refusal { _ = try await access.create(RegistryCredentialRequest(name: "zero", push: false, expiresIn: 0)) }
                .contains("expiresIn: 0 must be a positive number of seconds"))
            #expect(await access.list().map(\.name) == ["ci"])
            try await access.remove("ci")
            #expect(await access.list().isEmpty)
            #expect(await refusal { try await access.remove("ci") }.contains("no registry credential named ci"))
        }
    }

    @Test func tokensGrantWhatTheCredentialAllowsAndNoMore() async throws {
        try await Self.withAccess { access, _, _ in
            let pusher = try await access.create(RegistryCredentialRequest(name: "pusher", push: true))
            let puller = try await access.create(RegistryCredentialRequest(name: "puller", push: false))
            let scopes = ["repository:edge/app:pull,push", "registry:catalog:*"]

            let full = try await access.token(authorization: Self.basic("pusher", pusher.secret), service: "pier-registry", scopes: scopes)
            #expect(await access.authorize(Self.request("Bearer " + full.token), action: Self.push) == .allow)
            #expect(await access.authorize(Self.request("Bearer " + full.token), action: .catalog) == .allow)

            // A pull-only credential asking for push and the catalog gets a pull token.
            let pullOnly = try await access.token(authorization: Self.basic("puller", puller.secret), service: nil, scopes: scopes)
            #expect(await access.authorize(Self.request("Bearer " + pullOnly.token), action: Self.pull) == .allow)
            #expect(
                await access.authorize(Self.request("Bearer " + pullOnly.token), action: Self.push)
                    == .denied("puller may not push edge/app (a pull-only credential; create one with --push)"))
            #expect(await access.authorize(Self.request("Bearer " + pullOnly.token), action: .catalog) == .denied("puller may not * catalog"))
            // A token for one repository is not one for another.
            #expect(
                await access.authorize(Self.request("Bearer " + full.token), action: .pullManifest(repository: "edge/other", reference: "1"))
                    == .denied("pusher may not pull edge/other"))
        }
    }

    @Test func wrongExpiredOrMissingCredentialsGetNoToken() async throws {
        try await Self.withAccess { access, _, _ in
            let made = Date().addingTimeInterval(-7200)
            let old = try await access.create(RegistryCredentialRequest(name: "old", push: true, expiresIn: 3600), now: made)
            let current = try await access.create(RegistryCredentialRequest(name: "current", push: false))
            func refusal(_ authorization: String?, service: String? = nil, scopes: [String] = ["repository:edge/app:pull"]) async -> String {
                do {
                    _ = try await access.token(authorization: authorization, service: service, scopes: scopes)
                    return "issued"
                } catch { return "\(error)" }
            }
            #expect(await refusal(Self.basic("old", old.secret)).contains("registry credential old is unknown, expired or its secret is wrong"))
            #expect(await refusal(Self.basic("current", old.secret)).contains("registry credential current is unknown, expired or its secret is wrong"))
            #expect(await refusal(Self.basic("nobody", current.secret)).contains("registry credential nobody is unknown"))
            #expect(await refusal("Bearer something").contains("takes HTTP Basic credentials"))
            #expect(await refusal(nil).contains("anonymous pulls are off"))
            #expect(await refusal(Self.basic("current", current.secret), service: "elsewhere").contains("issues tokens for \"pier-registry\""))
            #expect(await refusal(Self.basic("current", current.secret), scopes: ["edge/app"]).contains("expected TYPE:NAME:ACTIONS"))
            // The positive control: the same credential, right secret, gets its token.
            #expect(await refusal(Self.basic("current", current.secret)) == "issued")
        }
    }

    @Test func bearerTokensAreCheckedForSignatureAndExpiry() async throws {
        try await Self.withAccess { access, _, _ in
            let created = try await access.create(RegistryCredentialRequest(name: "ci", push: true))
            let scopes = ["repository:edge/app:pull,push"]
            let fresh = try await access.token(authorization: Self.basic("ci", created.secret), service: nil, scopes: scopes)
            #expect(fresh.expiresIn > 0)
            #expect(await access.authorize(Self.request("Bearer " + fresh.token), action: Self.push) == .allow)
            // Issued two hours ago: past its lifetime.
            let stale = try await access.token(authorization: Self.basic("ci", created.secret), service: nil, scopes: scopes, now: Date().addingTimeInterval(-7200))
            guard case .unauthorized(let message, let challenge) = await access.authorize(Self.request("Bearer " + stale.token), action: Self.push) else {
                Issue.record("an expired token was accepted")
                return
            }
            #expect(message == "the bearer token is not valid or has expired")
            #expect(challenge == "Bearer realm=\"https://manager:4443/v1/registry/token\",service=\"pier-registry\",scope=\"repository:edge/app:pull,push\"")
            // A token signed by another manager's key.
            let foreign = RegistryTokenIssuer(key: Data(repeating: 7, count: 32)).issue(subject: "ci", access: [RegistryAccess(type: "repository", name: "edge/app", actions: ["pull", "push"])])
            guard case .unauthorized = await access.authorize(Self.request("Bearer " + foreign.token), action: Self.push) else {
                Issue.record("a token with a foreign signature was accepted")
                return
            }
            // No credential at all.
            guard case .unauthorized(_, let asked) = await access.authorize(Self.request(), action: Self.pull) else {
                Issue.record("an anonymous pull was allowed on a cluster without anonymous pulls")
                return
            }
            #expect(asked?.contains("scope=\"repository:edge/app:pull\"") == true)
        }
    }

    @Test func anonymousPullsWhenTheClusterAllowsThemOnly() async throws {
        try await Self.withAccess(anonymousPull: true) { access, _, _ in
            #expect(await access.authorize(Self.request(), action: Self.pull) == .allow)
            #expect(await access.authorize(Self.request(), action: .ping) == .allow)
            guard case .unauthorized = await access.authorize(Self.request(), action: Self.push) else {
                Issue.record("an anonymous push was allowed")
                return
            }
            let anonymous = try await access.token(authorization: nil, service: nil, scopes: ["repository:edge/app:pull,push"])
            #expect(await access.authorize(Self.request("Bearer " + anonymous.token), action: Self.pull) == .allow)
            #expect(await access.authorize(Self.request("Bearer " + anonymous.token), action: Self.push) != .allow)
        }
    }

    @Test func aKeyFileOfTheWrongSizeIsRefusedNotReplaced() async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let key = dir.appendingPathComponent("registry-token.key")
            try Data(repeating: 1, count: 5).write(to: key)
            await #expect(throws: ManagerError.self) {
                _ = try await RegistryAccessControl(manager: manager, keyFile: key, anonymousPull: false)
            }
            #expect(try Data(contentsOf: key) == Data(repeating: 1, count: 5))
        }
    }
}
