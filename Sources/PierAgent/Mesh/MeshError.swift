/// What went wrong setting up the node's side of the cluster network.
public enum MeshError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A flag or option out of its range: the message names it and the limit.
    case badOption(String)
    /// A lease the node refuses; nothing was changed.
    case badLease(String)
    /// The stored private key cannot be used.
    case badKey(path: String, reason: String)
    /// A peer the node leaves out of its mesh; the other peers are applied.
    case badPeer(nodeID: String, reason: String)
    /// The node cannot run the data path asked for.
    case unsupported(String)
    /// A network tool failed.
    case commandFailed(command: String, message: String)
    /// A state file could not be read or written.
    case storage(String)

    public var description: String {
        switch self {
        case .badOption(let m), .badLease(let m), .unsupported(let m), .storage(let m): m
        case .badKey(let path, let reason):
            "the mesh private key in \(path) \(reason); move it away to make a new key (the manager then learns the new public key)"
        case .badPeer(let nodeID, let reason): "peer \(nodeID.prefix(64)) left out of the mesh: \(reason)"
        case .commandFailed(let command, let message): "\(command): \(message)"
        }
    }
}
