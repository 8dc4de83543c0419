/// What a caller is to the cluster; carried in its certificate's subject OU (`pier-<role>`),
/// set by the cluster CA only.
///
/// Nodes (`manager`, `worker`) are the machines of the cluster: they hold node certificates
/// from joining and reach their session, renewal and the registry. People and tools hold client
/// certificates from `pier cert create` with one of the client roles: `admin` (everything),
/// `operator` (deploy, scale, update, stop, logs; nothing that could take the host) and
/// `readonly` (look only). The local unix sockets are `admin`.
public enum Role: String, Codable, Sendable, CaseIterable, CustomStringConvertible {
    case manager
    case worker
    case admin
    case `operator`
    case readonly

    /// The roles of nodes, which join with a token.
    public static let nodes: Set<Role> = [.manager, .worker]
    /// The roles of client certificates (`pier cert create --role`).
    public static let clients: Set<Role> = [.admin, .operator, .readonly]

    /// Whether this is a node's role rather than a person's or a tool's.
    public var isNode: Bool { Self.nodes.contains(self) }

    /// The subject organizational unit that names this role, as Swarm's `swarm-worker`/`swarm-manager`.
    public var organizationalUnit: String { "pier-\(rawValue)" }

    /// The role named by a subject organizational unit, or nil if it names none.
    public init?(organizationalUnit: String) {
        guard let role = Role.allCases.first(where: { $0.organizationalUnit == organizationalUnit }) else { return nil }
        self = role
    }

    /// The DNS name a node of this role carries in its certificate and that clients verify: an
    /// agent or a CLI reaching a manager checks the server name `pier-manager`, whatever address
    /// it dialled, so a worker's certificate cannot pose as the manager. Nil for client roles,
    /// which never serve.
    public var serverName: String? { isNode ? organizationalUnit : nil }

    /// The DNS name every node certificate carries: what a client checks when any node of the
    /// cluster will do (an agent's direct port).
    public static let anyNodeServerName = "pier-node"

    public var description: String { rawValue }
}
