import PierSpec
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import PierAccess
import PierAgent
import PierCluster
import PierPKI
import PierRegistry
import Testing
@testable import PierManager

/// The access table against what the manager really serves: every route registered on its
/// routers has a rule, and every rule names a route that exists. A new route without a rule
/// fails here (and is refused to everyone at run time).
@Suite struct RouteAccessTests {
    /// The manager's routers, built as `pier manager` and `pier up` build them, on a scratch data root.
    static func routers<T>(_ body: (_ local: [AccessPolicy.Route], _ localWithWorker: [AccessPolicy.Route], _ remote: [AccessPolicy.Route]) throws -> T) async throws -> T {
        try await withParts { parts in
            let tls = try ServerTLS(identity: parts.membership.serving, trust: ClusterTrust(anchors: parts.membership.anchors))
            return try body(
                routes(ManagerService.localRouter(parts, localWorker: false)),
                routes(ManagerService.localRouter(parts, localWorker: true)),
                remoteRoutes(parts, tls: tls))
        }
    }

    /// What `pier manager` serves from, on a scratch data root, removed afterwards.
    static func withParts<T>(_ body: (ManagerService.Parts) async throws -> T) async throws -> T {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-routes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var agent = AgentConfiguration(dataRoot: root, shimPath: "/nonexistent/pier-shim")
        agent.networkPool = 0
        let node = try await AgentNode.open(configuration: agent)
        defer { node.release() }
        let manager = try await Manager(store: try SQLiteStateStore(path: root.appendingPathComponent("manager.db"))) { $0 }
        let membership = try await Membership(directory: root.appendingPathComponent("pki"), manager: manager)
        let registry = try await RegistryAccessControl(manager: manager, keyFile: root.appendingPathComponent("pki/registry-token.key"), anonymousPull: false)
        return try await body(ManagerService.Parts(node: node, manager: manager, membership: membership, registry: registry, maxBody: 1 << 20, logger: Logger(label: "test")))
    }

    static func routes(_ router: Router<ManagerRequestContext>) -> [AccessPolicy.Route] {
        router.routes.map { AccessPolicy.Route($0.method.rawValue, $0.path.description) }
    }

    static func remoteRoutes(_ parts: ManagerService.Parts, tls: ServerTLS) -> [AccessPolicy.Route] {
        routes(ManagerService.remoteRouter(parts, tls: tls))
    }

    @Test func everyRouteOfEveryManagerServerHasARuleAndEveryRuleARoute() async throws {
        try await Self.routers { local, localWithWorker, remote in
            #expect(remote.count > 30 && local.count > 30, "the routers were enumerated: \(remote.count) remote, \(local.count) local")
            let both = [AccessPolicy.managerAPI, AccessPolicy.agentAPI]
            for route in remote where AccessPolicy.permission(for: route, in: AccessPolicy.managerAPI) == nil {
                Issue.record("\(route) is served on the manager's TCP port but has no rule in AccessPolicy.managerAPI")
            }
            for route in local + localWithWorker where both.allSatisfy({ AccessPolicy.permission(for: route, in: $0) == nil }) {
                Issue.record("\(route) is served on the manager's unix socket but has no rule in AccessPolicy")
            }
            // No stale rules: each one names a route some manager server registers (or the agent's).
            let served = Set(remote + local + localWithWorker)
            for route in AccessPolicy.managerAPI.keys where !served.contains(route) {
                Issue.record("AccessPolicy.managerAPI has a rule for \(route), which no manager router serves")
            }
        }
    }

    @Test func everyRegistryActionAndSessionMessageHasARule() {
        for kind in RegistryAction.Kind.allCases where AccessPolicy.registry[kind.rawValue] == nil {
            Issue.record("registry action \(kind) has no rule in AccessPolicy.registry")
        }
        for kind in AgentMessage.Kind.allCases where AccessPolicy.sessionMessages[kind.rawValue] == nil {
            Issue.record("session message \(kind) has no rule in AccessPolicy.sessionMessages")
        }
        #expect(Set(AccessPolicy.registry.keys) == Set(RegistryAction.Kind.allCases.map(\.rawValue)))
        #expect(Set(AccessPolicy.sessionMessages.keys) == Set(AgentMessage.Kind.allCases.map(\.rawValue)))
    }
}

/// Every route of the manager's TCP port, asked by every kind of caller over real mutual TLS:
/// node and client roles get exactly what `AccessPolicy` grants (403 otherwise); a removed node,
/// another cluster's CA and an expired certificate fail the handshake.
@Suite struct RouteByIdentityTests {
    enum Expectation { case policy(Caller), refusedAtHandshake }

    @Test func everyRouteTimesEveryIdentity() async throws {
        try await RouteAccessTests.withParts { parts in try await Self.askEveryRoute(parts) }
    }

    static func askEveryRoute(_ parts: ManagerService.Parts) async throws {
        let membership = parts.membership
        let trust = ClusterTrust(anchors: membership.anchors, membership: { await membership.refusal(for: $0) })
        let tls = try ServerTLS(identity: membership.serving, trust: trust)

        // Identities: nodes that joined with real tokens, one of them removed; clients of each role;
        // an expired client; a client of another cluster's CA.
        let ca = await membership.current
        func joined(_ hostname: String, _ role: String) async throws -> NodeIdentity {
            let token = try await membership.rotateToken(role: role).token
            let request = try CertificateRequest.generate()
            let answer = try await membership.join(JoinRequest(token: token, csr: try request.pemString(), hostname: hostname), address: nil)
            return try request.identity(certificatePEM: answer.certificate, rootsPEM: answer.caCertificate)
        }
        let worker = try await joined("worker-1", "worker"), managerNode = try await joined("manager-2", "manager")
        let removed = try await joined("worker-gone", "worker")
        try await membership.removeNode(removed.nodeID, force: true)
        let other = try ClusterCA.create()
        let identities: [(String, NodeIdentity?, Expectation)] = [
            ("worker", worker, .policy(Caller(role: .worker, name: worker.nodeID))),
            ("manager", managerNode, .policy(Caller(role: .manager, name: managerNode.nodeID))),
            ("admin", try ca.issueIdentity(nodeID: "client-a", role: .admin), .policy(Caller(role: .admin, name: "client-a"))),
            ("operator", try ca.issueIdentity(nodeID: "client-o", role: .operator), .policy(Caller(role: .operator, name: "client-o"))),
            ("readonly", try ca.issueIdentity(nodeID: "client-r", role: .readonly), .policy(Caller(role: .readonly, name: "client-r"))),
            ("no certificate", nil, .policy(.anonymous)),
            ("removed node", removed, .refusedAtHandshake),
            ("expired", try ca.issueIdentity(nodeID: "client-e", role: .admin, validity: 60, now: Date().addingTimeInterval(-7200)), .refusedAtHandshake),
            ("other CA", try other.issueIdentity(nodeID: "client-a", role: .admin).trusting([other.certificate, ca.certificate]), .refusedAtHandshake),
        ]

        let port = Mutex(0)
        let app = try ManagerService.remoteApplication(parts, tls: tls, host: "127.0.0.1", port: 0) { channel in
            port.withLock { $0 = channel.localAddress?.port ?? 0 }
        }
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        let deadline = Date().addingTimeInterval(10)
        while port.withLock({ $0 }) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let bound = port.withLock { $0 }
        #expect(bound != 0)

        // The remote router's routes, with their parameters filled in. POST /v1/ca/rotate goes last
        // (it changes the serving certificate) and is asked once per identity all the same.
        let routes = RouteAccessTests.remoteRoutes(parts, tls: tls).sorted { ($0.path == "/v1/ca/rotate" ? 1 : 0, $0.description) < ($1.path == "/v1/ca/rotate" ? 1 : 0, $1.description) }
        #expect(routes.count > 30)
        for (label, identity, expectation) in identities {
            let client = try identity.map { try ClientTLS(identity: $0, server: .manager) } ?? ClientTLS(anonymousTrusting: [ca.certificate], server: .manager)
            var configuration = HTTPClient.Configuration(tlsConfiguration: client.configuration)
            configuration.dnsOverride = [client.serverName: "127.0.0.1"]
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            for route in routes {
                let path = Self.concrete(route)
                var request = HTTPClientRequest(url: "https://\(client.serverName):\(bound)\(path)")
                request.method = .init(rawValue: route.method)
                let status: Int?
                do {
                    let response = try await http.execute(request, timeout: .seconds(10))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    status = Int(response.status.code)
                } catch { status = nil }
                switch expectation {
                case .refusedAtHandshake:
                    #expect(status == nil, "\(label): \(route) answered \(status ?? 0) instead of failing the handshake")
                case .policy(let caller):
                    let allowed = Self.allowed(caller, route, path: path)
                    guard let status else { Issue.record("\(label): \(route) failed the handshake"); continue }
                    if allowed {
                        // The token endpoint answers 401 itself to a request without a registry credential.
                        #expect(status != 403 && (status != 401 || route.path == "/v1/registry/token"), "\(label): \(route) answered \(status), the policy allows it")
                    } else {
                        #expect(status == 403 || (status == 401 && route.path.hasPrefix("/v2")), "\(label): \(route) answered \(status), the policy refuses it")
                    }
                }
            }
            try await http.shutdown()
        }
    }

    /// A request path for a route pattern; registry paths name the action the method implies.
    static func concrete(_ route: AccessPolicy.Route) -> String {
        guard route.path.hasSuffix("/**") else {
            return route.path.replacingOccurrences(of: "{ref}", with: "nothing").replacingOccurrences(of: "{name}", with: "nothing")
        }
        switch route.method {
        case "POST": return "/v2/edge/nothing/blobs/uploads/"
        case "PATCH": return "/v2/edge/nothing/blobs/uploads/0000"
        default: return "/v2/edge/nothing/manifests/latest"
        }
    }

    static func allowed(_ caller: Caller, _ route: AccessPolicy.Route, path: String) -> Bool {
        guard case .success(let permission) = AccessPolicy.authorize(caller, route, in: [AccessPolicy.managerAPI]) else { return false }
        guard permission == .registry else { return true }
        guard caller.role != nil else { return false }  // anonymous: bearer tokens, none given
        let kind = switch (route.method, path) {
        case (_, "/v2"): "ping"
        case ("POST", _): "startUpload"
        case ("PATCH", _), ("PUT", "/v2/edge/nothing/blobs/uploads/0000"): "upload"
        case ("PUT", _): "pushManifest"
        case ("DELETE", _): "deleteManifest"
        default: "pullManifest"
        }
        return AccessPolicy.authorizeRegistry(caller, action: kind) == nil
    }
}
