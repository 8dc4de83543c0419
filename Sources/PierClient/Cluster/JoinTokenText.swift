import PierCluster

/// What `pier join-token worker|manager` prints.
public enum JoinTokenText {
    /// Docker's wording, with the command an agent runs to join. The manager's address is not
    /// known to the client, so it is `<manager-address>` unless given (`HOST:PORT` or `tcp://HOST:PORT`).
    public static func instructions(role: NodeRole, token: String, managerAddress: String?) -> String {
        let address = managerAddress.map { $0.contains("://") ? $0 : "tcp://" + $0 } ?? "tcp://<manager-address>"
        return "To add a \(role.rawValue) to this cluster, run the following command:\n\n"
            + "    pier agent --join \(address) --token \(token)\n\n"
    }

    /// The token of `role`.
    public static func token(_ tokens: JoinTokens, role: NodeRole) -> String {
        switch role {
        case .worker: tokens.worker
        case .manager: tokens.manager
        }
    }
}
