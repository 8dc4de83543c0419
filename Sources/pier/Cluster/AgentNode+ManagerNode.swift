import PierAgent
import PierManager

/// `pier manager` and `pier up` run the manager on this node's agent: its image store, its API
/// on the local socket and, for `pier up`, the agent itself as a member of the cluster.
extension AgentNode: ManagerNode {}

extension ManagerService {
    /// Opens this node's agent (umask 077, the data root locked) and serves the manager on it;
    /// `pier up` also runs the agent as a node of the cluster, its session handed over in process.
    static func run(_ configuration: Configuration, agent: AgentConfiguration) async throws {
        Agent.usePrivateUmask()
        let node = try await AgentNode.open(configuration: agent)
        defer { node.release() }
        try await ManagerService(configuration: configuration).run(on: node) { manager, nodeID in
            try await ClusterAgent(
                node: node, configuration: .init(hostname: configuration.hostname),
                transport: LocalSessionTransport(manager: manager, nodeID: nodeID)
            ).run()
        }
    }
}
