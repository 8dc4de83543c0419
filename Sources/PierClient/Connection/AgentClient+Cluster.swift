import AsyncHTTPClient
import PierCluster

/// The manager's endpoints (docs/manager-api.md), reached over the same socket transport as the
/// agent's. `ref` is a service or node id, a unique id prefix, or a name (a node's hostname).
extension AgentClient {
    // MARK: Cluster

    /// `GET /v1/cluster`.
    public func clusterInfo() async throws -> ClusterInfo {
        try await managerCall("GET /v1/cluster") { try await decode(ClusterInfo.self, .GET, "/v1/cluster") }
    }

    // MARK: Services

    /// `GET /v1/services`, sorted by name.
    public func listServices() async throws -> [Service] {
        try await managerCall("GET /v1/services") { try await decode([Service].self, .GET, "/v1/services") }
    }

    /// `POST /v1/services`: the manager checks the spec and pins the image before storing anything.
    public func createService(_ spec: ServiceSpec) async throws -> Service {
        try await managerCall("POST /v1/services") {
            try await decode(Service.self, .POST, "/v1/services", body: Self.json(spec))
        }
    }

    /// `GET /v1/services/{ref}`.
    public func inspectService(_ ref: String) async throws -> Service {
        try await decode(Service.self, .GET, "/v1/services/" + Self.segment(ref))
    }

    /// `POST /v1/services/{ref}/update`: replaces the whole spec; the tasks roll under its update config.
    public func updateService(_ ref: String, spec: ServiceSpec) async throws -> Service {
        try await decode(Service.self, .POST, "/v1/services/\(Self.segment(ref))/update", body: Self.json(spec))
    }

    /// `POST /v1/services/{ref}/scale`.
    public func scaleService(_ ref: String, replicas: Int) async throws -> Service {
        try await decode(Service.self, .POST, "/v1/services/\(Self.segment(ref))/scale",
                         body: Self.json(ScaleRequest(replicas: replicas)))
    }

    /// `POST /v1/services/{ref}/rollback`: back to the previous spec, under the rollback config.
    public func rollbackService(_ ref: String) async throws -> Service {
        try await decode(Service.self, .POST, "/v1/services/\(Self.segment(ref))/rollback")
    }

    /// `DELETE /v1/services/{ref}`: the service and its tasks.
    public func removeService(_ ref: String) async throws {
        try await perform(.DELETE, "/v1/services/" + Self.segment(ref))
    }

    /// `GET /v1/services/{ref}/tasks`: current and past tasks, newest first within each slot.
    public func listServiceTasks(_ ref: String) async throws -> [ClusterTask] {
        try await decode([ClusterTask].self, .GET, "/v1/services/\(Self.segment(ref))/tasks")
    }

    // MARK: Tasks

    /// `GET /v1/tasks[?service=…][&node=…]`.
    public func listTasks(service: String? = nil, node: String? = nil) async throws -> [ClusterTask] {
        var query: [(String, String)] = []
        if let service { query.append(("service", service)) }
        if let node { query.append(("node", node)) }
        return try await managerCall("GET /v1/tasks") {
            try await decode([ClusterTask].self, .GET, "/v1/tasks", query: query)
        }
    }

    // MARK: Nodes

    /// `GET /v1/nodes`, sorted by hostname.
    public func listNodes() async throws -> [Node] {
        try await managerCall("GET /v1/nodes") { try await decode([Node].self, .GET, "/v1/nodes") }
    }

    /// `GET /v1/nodes/{ref}`: by id, unique id prefix or hostname.
    public func inspectNode(_ ref: String) async throws -> Node {
        try await decode(Node.self, .GET, "/v1/nodes/" + Self.segment(ref))
    }

    /// `POST /v1/nodes/{ref}/update`: availability and labels.
    public func updateNode(_ ref: String, _ update: NodeUpdateRequest) async throws -> Node {
        try await decode(Node.self, .POST, "/v1/nodes/\(Self.segment(ref))/update", body: Self.json(update))
    }

    /// `DELETE /v1/nodes/{ref}[?force=1]`: a ready node needs `force`.
    public func removeNode(_ ref: String, force: Bool) async throws {
        try await perform(.DELETE, "/v1/nodes/" + Self.segment(ref), query: force ? [("force", "1")] : [])
    }

    // MARK: Stacks

    /// `GET /v1/stacks`.
    public func listStacks() async throws -> [StackSummary] {
        try await managerCall("GET /v1/stacks") { try await decode([StackSummary].self, .GET, "/v1/stacks") }
    }

    /// `POST /v1/stacks/{name}`: creates, updates and prunes the stack's services.
    public func deployStack(_ name: String, _ request: StackDeployRequest) async throws -> StackDeployResult {
        try await managerCall("POST /v1/stacks") {
            try await decode(StackDeployResult.self, .POST, "/v1/stacks/" + Self.segment(name), body: Self.json(request))
        }
    }

    /// `DELETE /v1/stacks/{name}`.
    public func removeStack(_ name: String) async throws {
        try await perform(.DELETE, "/v1/stacks/" + Self.segment(name))
    }

    // MARK: Join tokens

    /// `GET /v1/join-tokens`: when each role's token was made.
    public func joinTokenStatus() async throws -> JoinTokenStatus {
        try await managerCall("GET /v1/join-tokens") { try await decode(JoinTokenStatus.self, .GET, "/v1/join-tokens") }
    }

    /// `POST /v1/join-tokens/rotate?role=…`: a new token, shown this once; the old token of that
    /// role no longer admits anyone.
    public func rotateJoinToken(role: NodeRole) async throws -> JoinTokenIssued {
        try await managerCall("POST /v1/join-tokens/rotate") {
            try await decode(JoinTokenIssued.self, .POST, "/v1/join-tokens/rotate", query: [("role", role.rawValue)])
        }
    }

    /// `GET /v1/services/{ref}/logs`: the output of the service's tasks, each line prefixed with its task.
    public func serviceLogs(_ ref: String, follow: Bool, tail: Int?, timestamps: Bool) async throws -> AttachedStream {
        try await logStream("/v1/services/\(Self.segment(ref))/logs", follow: follow, tail: tail, timestamps: timestamps)
    }

    /// `POST /v1/certificates`: a client certificate for the key of a request, signed by the cluster CA.
    public func createClientCertificate(_ request: ClientCertificateRequest) async throws -> ClientCertificate {
        try await managerCall("POST /v1/certificates") {
            try await decode(ClientCertificate.self, .POST, "/v1/certificates", body: Self.json(request))
        }
    }

    /// `GET /v1/certificates`: the client certificates issued and not expired.
    public func clientCertificates() async throws -> [ClientCertificateInfo] {
        try await managerCall("GET /v1/certificates") { try await decode([ClientCertificateInfo].self, .GET, "/v1/certificates") }
    }

    /// `POST /v1/certificates/revoke`: a client name's certificates, or one by serial number.
    public func revokeClientCertificate(_ target: String) async throws -> [ClientCertificateInfo] {
        try await managerCall("POST /v1/certificates/revoke") {
            try await decode([ClientCertificateInfo].self, .POST, "/v1/certificates/revoke", body: Self.json(RevokeRequest(target: target)))
        }
    }

    // MARK: The cluster CA

    /// `GET /v1/ca`.
    public func caStatus() async throws -> CAStatus {
        try await managerCall("GET /v1/ca") { try await decode(CAStatus.self, .GET, "/v1/ca") }
    }

    /// `POST /v1/ca/rotate`.
    public func rotateCA() async throws -> CAStatus {
        try await managerCall("POST /v1/ca/rotate") { try await decode(CAStatus.self, .POST, "/v1/ca/rotate") }
    }

    // MARK: Registry credentials

    /// `POST /v1/registry/credentials`: a credential for the manager's registry; its secret is in the answer only.
    public func createRegistryCredential(_ request: RegistryCredentialRequest) async throws -> RegistryCredentialCreated {
        try await managerCall("POST /v1/registry/credentials") {
            try await decode(RegistryCredentialCreated.self, .POST, "/v1/registry/credentials", body: Self.json(request))
        }
    }

    /// `GET /v1/registry/credentials`.
    public func registryCredentials() async throws -> [RegistryCredentialInfo] {
        try await managerCall("GET /v1/registry/credentials") {
            try await decode([RegistryCredentialInfo].self, .GET, "/v1/registry/credentials")
        }
    }

    /// `DELETE /v1/registry/credentials/{name}`.
    public func removeRegistryCredential(_ name: String) async throws {
        try await perform(.DELETE, "/v1/registry/credentials/" + Self.segment(name))
    }

    // MARK: Helpers

    /// A 404 on a route without a reference means the endpoint is not a manager (a plain agent
    /// answers 404 for every cluster route); say so instead of printing a bare "Not Found".
    func managerCall<T>(_ request: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ClientError where error.isNotFound {
            throw ClientError.api(
                status: 404,
                message: "\(endpoint) does not serve the manager API (\(request) answered 404); point --host or PIER_HOST at the socket of `pier manager` or `pier up`")
        }
    }
}
