import Foundation
import PierAccess
import Testing

/// The decisions of the one authorization table, for every role.
@Suite struct AccessPolicyTests {
    static let everyone: [Caller] = [.anonymous, .local] + Role.allCases.map { Caller(role: $0, name: "x-\($0)") }

    @Test func everyPermissionAdmitsExactlyItsRoles() {
        for permission in Permission.allCases {
            for caller in Self.everyone {
                let expected: Bool
                if let role = caller.role { expected = permission.roles.contains(role) } else { expected = permission.admitsAnonymous }
                #expect(permission.admits(caller) == expected, "\(permission) for \(caller)")
            }
        }
        // Spelled out for the roles people hold: readonly looks, operator operates, admin administers.
        #expect(Permission.read.roles == [.readonly, .operator, .admin])
        #expect(Permission.operate.roles == [.operator, .admin])
        #expect(Permission.admin.roles == [.admin])
        #expect(Permission.node.roles == [.worker, .manager])
    }

    @Test func aRouteWithoutARuleIsRefusedToEveryoneIncludingTheLocalSocket() {
        let route = AccessPolicy.Route("POST", "/v1/not-in-the-table")
        for caller in Self.everyone {
            guard case .failure(let denied) = AccessPolicy.authorize(caller, route, in: [AccessPolicy.managerAPI, AccessPolicy.agentAPI]) else {
                Issue.record("\(caller) was let through a route with no rule")
                continue
            }
            #expect(denied.reason.contains("no access rule"))
        }
    }

    @Test func workersReachTheirSessionAndTheRegistryOnly() {
        let worker = Caller(role: .worker, name: "node-1")
        let allowed = AccessPolicy.managerAPI.filter { $0.value.admits(worker) }.keys.map(\.description).sorted()
        // Their session and renewal, the registry (decided again per action), and the open routes
        // that check a secret themselves.
        for route in allowed {
            #expect(route.contains("/v2") || route == "GET /v1/session" || route == "POST /v1/certificate/renew"
                || route == "POST /v1/join" || route == "GET /v1/registry/token", "a worker reaches \(route)")
        }
        #expect(AccessPolicy.agentAPI.values.allSatisfy { !$0.admits(worker) }, "a worker reaches the agent's API")
        #expect(AccessPolicy.authorizeRegistry(worker, action: "pullBlob") == nil)
        #expect(AccessPolicy.authorizeRegistry(worker, action: "pushManifest") != nil)
        #expect(AccessPolicy.authorizeRegistry(worker, action: "deleteBlob") != nil)
    }

    @Test func operatorsDeployButDoNotAdminister() {
        let op = Caller(role: .operator, name: "client-ci")
        func allowed(_ method: String, _ path: String, _ api: [AccessPolicy.Route: Permission]) -> Bool {
            if case .success = AccessPolicy.authorize(op, AccessPolicy.Route(method, path), in: [api]) { return true }
            return false
        }
        #expect(allowed("POST", "/v1/services", AccessPolicy.managerAPI))
        #expect(allowed("POST", "/v1/services/{ref}/scale", AccessPolicy.managerAPI))
        #expect(allowed("GET", "/v1/services/{ref}/logs", AccessPolicy.managerAPI))
        #expect(allowed("POST", "/v1/containers", AccessPolicy.agentAPI))
        #expect(!allowed("POST", "/v1/containers/{ref}/exec", AccessPolicy.agentAPI))
        #expect(!allowed("POST", "/v1/images/import", AccessPolicy.agentAPI))
        #expect(!allowed("POST", "/v1/certificates", AccessPolicy.managerAPI))
        #expect(!allowed("POST", "/v1/join-tokens/rotate", AccessPolicy.managerAPI))
        #expect(!allowed("DELETE", "/v1/nodes/{ref}", AccessPolicy.managerAPI))
        #expect(!allowed("POST", "/v1/ca/rotate", AccessPolicy.managerAPI))
        #expect(AccessPolicy.authorizeRegistry(op, action: "pushManifest") == nil)
        #expect(AccessPolicy.authorizeRegistry(op, action: "deleteManifest") != nil)
    }

    @Test func readonlyOnlyLooks() {
        let ro = Caller(role: .readonly, name: "client-dash")
        for (route, permission) in AccessPolicy.managerAPI.merging(AccessPolicy.agentAPI, uniquingKeysWith: { a, _ in a }) {
            guard case .success = AccessPolicy.authorize(ro, route, in: [AccessPolicy.managerAPI, AccessPolicy.agentAPI]) else { continue }
            #expect(permission == .read || permission == .open || permission == .registry, "readonly may \(route)")
            if permission == .read { #expect(route.method == "GET" || route.path == "/v1/images/du", "a read rule on \(route)") }
        }
        #expect(AccessPolicy.authorizeRegistry(ro, action: "startUpload") != nil)
    }

    @Test func anonymousCallersGetOnlyTheOpenRoutesAndTheRegistry() {
        for (route, permission) in AccessPolicy.managerAPI {
            let result = AccessPolicy.authorize(.anonymous, route, in: [AccessPolicy.managerAPI])
            switch result {
            case .success: #expect(permission == .open || permission == .registry, "anonymous reaches \(route)")
            case .failure(let denied): #expect(denied.reason.contains("client certificate"), "\(denied)")
            }
        }
        #expect(AccessPolicy.authorizeRegistry(.anonymous, action: "pullBlob") != nil, "the registry decides anonymous callers by bearer token")
    }

    @Test func sessionMessagesComeFromNodesOnly() {
        for kind in AccessPolicy.sessionMessages.keys {
            #expect(AccessPolicy.authorizeMessage(Caller(role: .worker, name: "n"), kind: kind) == nil)
            for role in Role.clients { #expect(AccessPolicy.authorizeMessage(Caller(role: role, name: "c"), kind: kind) != nil) }
        }
        #expect(AccessPolicy.authorizeMessage(Caller(role: .worker, name: "n"), kind: "somethingNew") != nil)
    }

    @Test func operatorsMayNotAskForTheHostButKeepWhatAnAdminGave() {
        let op = Caller(role: .operator, name: "client-ci")
        let host = PrivilegeRequest(.hostNetwork, "network host")
        let bind = PrivilegeRequest(.bindMount, "volume /:/host")
        #expect(PrivilegeReview.review([], caller: op) == nil)
        let refused = PrivilegeReview.review([bind], caller: op)
        #expect(refused?.reason.contains("bind-mounts") == true && refused?.reason.contains("volume /:/host") == true, "\(String(describing: refused))")
        #expect(PrivilegeReview.review([host, bind], caller: .local) == nil)
        #expect(PrivilegeReview.review([host, bind], caller: Caller(role: .admin, name: "client-root")) == nil)
        // An update that keeps what the old spec had is fine; one that adds to it is not.
        #expect(PrivilegeReview.review([host], caller: op, kept: [host]) == nil)
        #expect(PrivilegeReview.review([host, bind], caller: op, kept: [host]) != nil)
        for role in [Role.readonly, .worker, .manager] {
            #expect(PrivilegeReview.review([PrivilegeRequest(.device, "device /dev/ttyUSB0")], caller: Caller(role: role, name: "r")) != nil)
        }
    }

    @Test func revocationListsRefuseBySerialOrNodeAndForgetExpiredEntries() {
        let now = Date()
        var list = RevocationList()
        list.add([
            .init(nodeID: "node-gone", expires: now.addingTimeInterval(3600), reason: "removed"),
            .init(serialNumber: "0abc", expires: now.addingTimeInterval(-1), reason: "revoked"),
        ])
        #expect(list.version == 1)
        #expect(list.entry(refusingSubject: "node-gone", serialNumber: "ffff")?.reason == "removed")
        #expect(list.entry(refusingSubject: "client-x", serialNumber: "0abc")?.reason == "revoked")
        #expect(list.entry(refusingSubject: "client-x", serialNumber: "0abd") == nil)
        let pruned = list.pruned(now: now)
        #expect(pruned.entries.count == 1 && pruned.entry(refusingSubject: "client-x", serialNumber: "0abc") == nil)
        list.add([.init(nodeID: "node-gone", expires: now, reason: "again")])
        #expect(list.entries.count == 2, "an identity already listed is not listed twice")
    }

    @Test func rolesRoundTripThroughTheirOrganizationalUnit() {
        for role in Role.allCases {
            #expect(Role(organizationalUnit: role.organizationalUnit) == role)
            #expect((role.serverName != nil) == role.isNode)
        }
        #expect(Role(organizationalUnit: "swarm-manager") == nil)
        #expect(Role(organizationalUnit: "pier-root") == nil)
    }
}
