/// The role a node plays in the cluster; carried in its certificate's subject OU.
public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case worker
    case manager

    /// The subject organizational unit that names this role, as Swarm's `swarm-worker`/`swarm-manager`.
    public var organizationalUnit: String { "pier-\(rawValue)" }

    /// The role named by a subject organizational unit, or nil if it names none.
    public init?(organizationalUnit: String) {
        guard let role = NodeRole.allCases.first(where: { $0.organizationalUnit == organizationalUnit }) else {
            return nil
        }
        self = role
    }
}
