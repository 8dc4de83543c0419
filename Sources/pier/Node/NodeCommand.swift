import ArgumentParser

/// `pier node …`: the cluster's nodes, through the manager.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "List and manage the cluster's nodes (talks to pier manager).",
        subcommands: [NodeList.self, NodeInspect.self, NodeUpdate.self, NodeRemove.self, NodePs.self]
    )
}
