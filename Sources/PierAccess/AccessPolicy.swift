/// Who may call what, for every server Pier runs, in one place. Default deny: a route, registry
/// action or session message that has no rule here is refused to everyone, the local socket
/// included, and the tests enumerate every route the servers register against these tables.
///
/// The same rule answers on every listener of an API: the manager's unix socket and TCP port,
/// the agent's unix socket and direct TLS port. What differs per listener is only who the
/// caller can be (the sockets are `admin`; the agent's direct port admits client certificates
/// only, at the handshake).
public enum AccessPolicy {
    /// A route as the HTTP router registers it: the method and the path pattern
    /// (`/v1/services/{ref}`, `/v2/**`).
    public struct Route: Hashable, Sendable, CustomStringConvertible {
        public var method: String
        public var path: String
        public init(_ method: String, _ path: String) {
            self.method = method
            self.path = path
        }
        public var description: String { "\(method) \(path)" }
    }

    /// The manager's API (docs/manager-api.md): on its unix socket and its TCP port.
    public static let managerAPI: [Route: Permission] = [
        Route("GET", "/v1/cluster"): .read,
        // Services and tasks
        Route("GET", "/v1/services"): .read,
        Route("POST", "/v1/services"): .operate,
        Route("GET", "/v1/services/{ref}"): .read,
        Route("POST", "/v1/services/{ref}/update"): .operate,
        Route("POST", "/v1/services/{ref}/scale"): .operate,
        Route("POST", "/v1/services/{ref}/rollback"): .operate,
        Route("DELETE", "/v1/services/{ref}"): .operate,
        Route("GET", "/v1/services/{ref}/tasks"): .read,
        Route("GET", "/v1/services/{ref}/logs"): .operate,
        Route("GET", "/v1/tasks"): .read,
        // Nodes: draining and labelling are operations; removing one revokes its certificate.
        Route("GET", "/v1/nodes"): .read,
        Route("GET", "/v1/nodes/{ref}"): .read,
        Route("POST", "/v1/nodes/{ref}/update"): .operate,
        Route("DELETE", "/v1/nodes/{ref}"): .admin,
        // Stacks
        Route("GET", "/v1/stacks"): .read,
        Route("POST", "/v1/stacks/{name}"): .operate,
        Route("DELETE", "/v1/stacks/{name}"): .operate,
        // Identities: client certificates, revocation, join tokens, the CA
        Route("GET", "/v1/certificates"): .admin,
        Route("POST", "/v1/certificates"): .admin,
        Route("POST", "/v1/certificates/revoke"): .admin,
        Route("GET", "/v1/join-tokens"): .admin,
        Route("POST", "/v1/join-tokens/rotate"): .admin,
        Route("GET", "/v1/ca"): .read,
        Route("POST", "/v1/ca/rotate"): .admin,
        // The registry's credentials, and the token endpoint they are exchanged at (the
        // credential is the check there, as the join token is at join).
        Route("GET", "/v1/registry/credentials"): .admin,
        Route("POST", "/v1/registry/credentials"): .admin,
        Route("DELETE", "/v1/registry/credentials/{name}"): .admin,
        Route("GET", "/v1/registry/token"): .open,
        // Nodes joining and keeping their session
        Route("POST", "/v1/join"): .open,
        Route("POST", "/v1/certificate/renew"): .node,
        Route("GET", "/v1/session"): .node,
        // The registry: per action, below
        Route("GET", "/v2"): .registry, Route("HEAD", "/v2"): .registry,
        Route("GET", "/v2/**"): .registry, Route("HEAD", "/v2/**"): .registry, Route("POST", "/v2/**"): .registry,
        Route("PUT", "/v2/**"): .registry, Route("PATCH", "/v2/**"): .registry, Route("DELETE", "/v2/**"): .registry,
    ]

    /// The agent's API (docs/agent-api.md): on its unix socket, its direct TLS port, and the
    /// unix socket of `pier up` (and the image routes of `pier manager`'s).
    public static let agentAPI: [Route: Permission] = [
        Route("GET", "/v1/info"): .read,
        Route("GET", "/v1/stats"): .read,
        Route("GET", "/v1/system/df"): .read,
        // Containers
        Route("GET", "/v1/containers"): .read,
        Route("POST", "/v1/containers"): .operate,
        Route("GET", "/v1/containers/{ref}"): .read,
        Route("POST", "/v1/containers/{ref}/start"): .operate,
        Route("POST", "/v1/containers/{ref}/stop"): .operate,
        Route("POST", "/v1/containers/{ref}/restart"): .operate,
        Route("POST", "/v1/containers/{ref}/kill"): .operate,
        Route("DELETE", "/v1/containers/{ref}"): .operate,
        Route("GET", "/v1/containers/{ref}/wait"): .read,
        Route("GET", "/v1/containers/{ref}/logs"): .operate,
        Route("GET", "/v1/containers/{ref}/stats"): .read,
        // A process of the caller's choosing inside a running container, as its user: a shell on the device.
        Route("POST", "/v1/containers/{ref}/exec"): .admin,
        // Images
        Route("GET", "/v1/images"): .read,
        // An arbitrary archive unpacked by the device: only admins.
        Route("POST", "/v1/images/import"): .admin,
        Route("POST", "/v1/images/pull"): .operate,
        Route("POST", "/v1/images/push"): .operate,
        Route("POST", "/v1/images/du"): .read,
        Route("POST", "/v1/images/prune"): .operate,
        Route("GET", "/v1/images/{ref}"): .read,
        Route("GET", "/v1/images/{ref}/manifest"): .read,
        Route("GET", "/v1/images/{ref}/config"): .read,
        Route("GET", "/v1/images/{ref}/export"): .read,
        Route("GET", "/v1/images/{ref}/signatures"): .read,
        Route("POST", "/v1/images/{ref}/signatures"): .operate,
        Route("POST", "/v1/images/{ref}/tag"): .operate,
        Route("DELETE", "/v1/images/{ref}"): .operate,
    ]

    /// The registry's actions (`RegistryAction.Kind` in PierRegistry), for callers with a
    /// certificate; callers without one are decided by the registry's bearer tokens.
    public static let registry: [String: Set<Role>] = [
        "ping": Set(Role.allCases),
        "catalog": [.manager, .admin, .operator, .readonly],
        "listTags": Set(Role.allCases),
        "pullManifest": Set(Role.allCases),
        "pullBlob": Set(Role.allCases),
        "listReferrers": Set(Role.allCases),
        "pullDelta": Set(Role.allCases),
        "startUpload": [.admin, .operator],
        "upload": [.admin, .operator],
        "pushManifest": [.admin, .operator],
        "deleteManifest": [.admin],
        "deleteBlob": [.admin],
        // Refused by the registry itself with 405.
        "unsupported": Set(Role.allCases),
    ]

    /// The CoAP management interface of agents and managers (docs/coap-api.md): the verb a
    /// client's scope must hold (`CoAPVerb` in PierCoAPAPI), per route. OSCORE authenticates the
    /// client; its scope names the services, verbs and privileges (``PrivilegeReview``) it has.
    public static let coapInterface: [Route: String] = [
        Route("GET", "/services"): "list",
        Route("GET", "/services/{name}"): "status",
        Route("PUT", "/services/{name}"): "activate",
        Route("DELETE", "/services/{name}"): "remove",
        Route("POST", "/services/{name}/stop"): "stop",
        Route("POST", "/services/{name}/start"): "start",
    ]

    /// The messages an agent may send on its session (`AgentMessage.Kind` in PierCluster).
    public static let sessionMessages: [String: Set<Role>] = [
        "hello": Role.nodes,
        "heartbeat": Role.nodes,
        "status": Role.nodes,
        "logs": Role.nodes,
        "staged": Role.nodes,
    ]

    /// The rule for `route` in `api`, or nil when there is none (which refuses it).
    public static func permission(for route: Route, in api: [Route: Permission]) -> Permission? {
        api[route]
    }

    /// Decides a request: allowed, or the reason it is refused, naming the caller and what the
    /// route needs.
    public static func authorize(_ caller: Caller, _ route: Route, in apis: [[Route: Permission]]) -> Result<Permission, AccessDenied> {
        guard let permission = apis.lazy.compactMap({ $0[route] }).first else {
            return .failure(AccessDenied("\(route) has no access rule; refused to everyone"))
        }
        guard permission.admits(caller) else {
            if caller.role == nil {
                return .failure(AccessDenied("\(route) needs \(permission); present a client certificate of the cluster (pier cert create)"))
            }
            return .failure(AccessDenied("\(caller) may not \(route): it needs \(permission)"))
        }
        return .success(permission)
    }

    /// Decides a registry action for a caller with a certificate.
    public static func authorizeRegistry(_ caller: Caller, action: String) -> AccessDenied? {
        guard let roles = registry[action] else { return AccessDenied("registry action \(action) has no access rule; refused") }
        guard let role = caller.role, roles.contains(role) else {
            let who = roles.sorted { $0.rawValue < $1.rawValue }.map(\.rawValue).joined(separator: ", ")
            return AccessDenied("\(caller) may not \(action) in the registry (allowed: \(who))")
        }
        return nil
    }

    /// Decides a session message from a node.
    public static func authorizeMessage(_ caller: Caller, kind: String) -> AccessDenied? {
        guard let roles = sessionMessages[kind] else { return AccessDenied("session message \(kind) has no access rule; refused") }
        guard let role = caller.role, roles.contains(role) else {
            return AccessDenied("\(caller) may not send \(kind) messages")
        }
        return nil
    }
}

/// A refusal: what was refused and why, to show the caller as is.
public struct AccessDenied: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
