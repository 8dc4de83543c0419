import Foundation
import Hummingbird
import PierAccess
import PierPKI
import Testing
@testable import PierAgent

/// The agent's access table against the routes it really serves, on its unix socket and on its
/// direct TLS port: a new route without a rule fails here (and is refused at run time).
@Suite struct AgentRouteAccessTests {
    @Test func everyRouteOfTheSocketAndTheDirectPortHasARuleAndEveryRuleARoute() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-routes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var configuration = AgentConfiguration(dataRoot: root, shimPath: "/nonexistent/pier-shim")
        configuration.networkPool = 0
        let node = try await AgentNode.open(configuration: configuration)
        defer { node.release() }
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
