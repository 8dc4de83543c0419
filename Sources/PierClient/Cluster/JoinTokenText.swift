import PierCluster

/// What `pier join-token worker|manager` prints.
public enum JoinTokenText {
    /// The command an agent runs to join, with the token in its environment (never on a command
    /// line, where every user of the device could read it in /proc). The manager's address is not
    /// known to the client, so it is `<manager-address>` unless given (`HOST:PORT` or `tcp://HOST:PORT`).
    public static func instructions(role: NodeRole, token: String, managerAddress: String?) -> String {
        let address = managerAddress.map { $0.contains("://") ? $0 : "tcp://" + $0 } ?? "tcp://<manager-address>"
        return "A new \(role.rawValue) join token; the previous one no longer admits anyone, and this one is not shown again.\n"
            + "To add a \(role.rawValue) to this cluster, run the following command on it:\n\n"
            + "    PIER_JOIN_TOKEN=\(token) pier agent --join \(address)\n\n"
            + "or save the token in a file only root can read and pass --token-file FILE.\n"
    }
}
