/// What a route or a message needs of its caller. Each rule of ``AccessPolicy`` names one.
public enum Permission: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Anyone, also without a certificate: the handler checks a secret itself (a join token, a
    /// registry credential).
    case open
    /// A node's own business: its session, its certificate's renewal.
    case node
    /// Looking: listings, inspect, status. `readonly`, `operator`, `admin`.
    case read
    /// Running things: deploy, scale, update, stop, logs. `operator` and `admin`; what an
    /// operator's containers may ask for is limited further by ``PrivilegeReview``.
    case operate
    /// Administering: certificates, join tokens, removing nodes, the CA, exec, image import.
    case admin
    /// The registry (`/v2/…`): decided per registry action by ``AccessPolicy/registry``, and by
    /// the registry's bearer tokens for callers without a certificate.
    case registry

    /// The roles that hold this permission. `open` and `registry` admit callers without a role too.
    public var roles: Set<Role> {
        switch self {
        case .open: Set(Role.allCases)
        case .node: Role.nodes
        case .read: [.readonly, .operator, .admin]
        case .operate: [.operator, .admin]
        case .admin: [.admin]
        case .registry: Set(Role.allCases)
        }
    }

    /// Whether a caller without a certificate passes.
    public var admitsAnonymous: Bool { self == .open || self == .registry }

    /// Whether `caller` holds this permission.
    public func admits(_ caller: Caller) -> Bool {
        guard let role = caller.role else { return admitsAnonymous }
        return roles.contains(role)
    }

    public var description: String {
        switch self {
        case .open: "anyone"
        case .node: "a node certificate"
        case .read: "a readonly, operator or admin certificate"
        case .operate: "an operator or admin certificate"
        case .admin: "an admin certificate"
        case .registry: "registry access"
        }
    }
}
