import AsyncHTTPClient
import Foundation
import Hummingbird
import Synchronization
import PierAccess
import PierPKI
import Testing
@testable import PierAgent

/// The agent's access table against the routes it really serves, on its unix socket and on its
/// direct TLS port: a new route without a rule fails here (and is refused at run time).
@Suite struct AgentRouteAccessTests {
    @Test func everyRouteOfTheSocketAndTheDirectPortHasARuleAndEveryRuleARoute() async throws {
        try await withAgentNode { node, root in
            let ca = try ClusterCA.create()
            let tls = try ServerTLS(identity: ca.issueIdentity(nodeID: "node-1", role: .worker), trust: ClusterTrust(caCertificate: ca.certificate), allowedClients: Role.clients)
            func routes(_ router: Router<AgentRequestContext>) -> [AccessPolicy.Route] {
                router.routes.map { AccessPolicy.Route($0.method.rawValue, $0.path.description) }
            }
            let local = routes(Agent.localRouter(node: node))
            let direct = routes(Agent.directRouter(node: node, tls: tls))
            #expect(local.count > 20, "the socket's routes were enumerated: \(local)")
            #expect(Set(local) == Set(direct), "the socket and the direct port serve the same API")
            for route in local + direct where AccessPolicy.permission(for: route, in: AccessPolicy.agentAPI) == nil {
                Issue.record("\(route) is served by the agent but has no rule in AccessPolicy.agentAPI")
            }
            for route in AccessPolicy.agentAPI.keys where !local.contains(route) {
                Issue.record("AccessPolicy.agentAPI has a rule for \(route), which the agent does not serve")
            }
        }
    }
}

/// Every route of an agent's direct port, asked by every kind of caller over real mutual TLS:
/// client roles get what `AccessPolicy.agentAPI` grants (403 otherwise); node certificates (a
/// compromised device's key), revoked, expired and foreign ones fail the handshake, and a client
/// without a certificate gets 403 everywhere.
@Suite struct DirectPortByIdentityTests {
    @Test func everyRouteTimesEveryIdentity() async throws {
        try await withAgentNode { node, root in
            // This node's identity, as a join leaves it, and the revocation list the manager pushed.
            let ca = try ClusterCA.create()
            let membership = ClusterMembership(dataRoot: root)
            try FileManager.default.createDirectory(at: membership.directory, withIntermediateDirectories: true)
            try ca.issueIdentity(nodeID: "node-self", role: .worker).save(to: membership.directory.path)
            let revokedClient = try ca.issueIdentity(nodeID: "client-gone", role: .admin)
            var list = RevocationList()
            list.add([.init(serialNumber: try PeerIdentity(certificate: revokedClient.certificate).serialNumber, expires: .distantFuture, reason: "revoked by test")])
            try membership.saveRevocations(list)
            let trust = try NodeTrust(membership: membership)

            let other = try ClusterCA.create()
            let identities: [(String, NodeIdentity?, Caller?)] = [
                ("admin", try ca.issueIdentity(nodeID: "client-a", role: .admin), Caller(role: .admin, name: "client-a")),
                ("operator", try ca.issueIdentity(nodeID: "client-o", role: .operator), Caller(role: .operator, name: "client-o")),
                ("readonly", try ca.issueIdentity(nodeID: "client-r", role: .readonly), Caller(role: .readonly, name: "client-r")),
                ("worker", try ca.issueIdentity(nodeID: "node-2", role: .worker), nil),
                ("manager", try ca.issueIdentity(nodeID: "node-m", role: .manager), nil),
                ("revoked", revokedClient, nil),
                ("expired", try ca.issueIdentity(nodeID: "client-e", role: .admin, validity: 60, now: Date().addingTimeInterval(-7200)), nil),
                ("other CA", try other.issueIdentity(nodeID: "client-a", role: .admin).trusting([other.certificate, ca.certificate]), nil),
                ("no certificate", nil, nil),
            ]

            let port = Mutex(0)
            let apps = try Agent.directApplications(["tcp://127.0.0.1:\(Int.random(in: 40000...50000))"], node: node, trust: trust) { channel in
                port.withLock { $0 = channel.localAddress?.port ?? 0 }
            }
            let app = try #require(apps.first)
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            let deadline = Date().addingTimeInterval(10)
            while port.withLock({ $0 }) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let bound = port.withLock { $0 }
            #expect(bound != 0)

            let tls = try ServerTLS(identity: trust.serving, trust: ClusterTrust(anchors: trust.anchors), allowedClients: Role.clients)
            let routes = Agent.directRouter(node: node, tls: tls).routes.map { AccessPolicy.Route($0.method.rawValue, $0.path.description) }
            #expect(routes.count > 20)
            for (label, identity, caller) in identities {
                let client = try identity.map { try ClientTLS(identity: $0, server: nil) } ?? ClientTLS(anonymousTrusting: [ca.certificate], server: nil)
                var http = HTTPClient.Configuration(tlsConfiguration: client.configuration)
                http.dnsOverride = [client.serverName: "127.0.0.1"]
                let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
                for route in routes {
                    let path = route.path.replacingOccurrences(of: "{ref}", with: "nothing")
                    var request = HTTPClientRequest(url: "https://\(client.serverName):\(bound)\(path)")
                    request.method = .init(rawValue: route.method)
                    let status: Int?
                    do {
                        let response = try await httpClient.execute(request, timeout: .seconds(10))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        status = Int(response.status.code)
                    } catch { status = nil }
                    guard let caller else {
                        if identity == nil {
                            // Without a certificate the handshake completes and every route says what is missing.
                            #expect(status == 403, "\(label): \(route) answered \(status.map(String.init) ?? "a failed handshake"), expected 403")
                        } else {
                            #expect(status == nil, "\(label): \(route) answered \(status ?? 0) instead of failing the handshake")
                        }
                        continue
                    }
                    guard let status else { Issue.record("\(label): \(route) failed the handshake"); continue }
                    let allowed = if case .success = AccessPolicy.authorize(caller, route, in: [AccessPolicy.agentAPI]) { true } else { false }
                    if allowed {
                        #expect(status != 403, "\(label): \(route) answered 403, the policy allows it")
                    } else {
                        #expect(status == 403, "\(label): \(route) answered \(status), the policy refuses it")
                    }
                }
                try await httpClient.shutdown()
            }
        }
    }
}

/// An agent node on a scratch data root, released and removed afterwards.
func withAgentNode(_ body: (AgentNode, URL) async throws -> Void) async throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-routes-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    var configuration = AgentConfiguration(dataRoot: root, shimPath: "/nonexistent/pier-shim")
    configuration.networkPool = 0
    let node = try await AgentNode.open(configuration: configuration)
    defer { node.release() }
    try await body(node, root)
}
