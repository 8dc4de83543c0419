import Foundation
import Hummingbird
import Logging
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
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-routes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var agent = AgentConfiguration(dataRoot: root, shimPath: "/nonexistent/pier-shim")
        agent.networkPool = 0
        let node = try await AgentNode.open(configuration: agent)
        defer { node.release() }
        let manager = try await Manager(store: try SQLiteStateStore(path: root.appendingPathComponent("manager.db"))) { $0 }
        let membership = try await Membership(directory: root.appendingPathComponent("pki"), manager: manager)
        let registry = try await RegistryAccessControl(manager: manager, keyFile: root.appendingPathComponent("pki/registry-token.key"), anonymousPull: false)
        let parts = ManagerService.Parts(node: node, manager: manager, membership: membership, registry: registry, maxBody: 1 << 20, logger: Logger(label: "test"))
        let tls = try ServerTLS(identity: membership.serving, trust: ClusterTrust(anchors: membership.anchors))
        func routes(_ router: Router<ManagerRequestContext>) -> [AccessPolicy.Route] {
            router.routes.map { AccessPolicy.Route($0.method.rawValue, $0.path.description) }
        }
        return try body(
            routes(ManagerService.localRouter(parts, localWorker: false)),
            routes(ManagerService.localRouter(parts, localWorker: true)),
            routes(ManagerService.remoteRouter(parts, tls: tls)))
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
