import ArgumentParser
import PierClient

/// `pier node rm`.
struct NodeRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove nodes from the cluster; their certificates are refused from then on.",
        aliases: ["remove"])

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Remove a node even if it is ready.")
    var force = false
    @Argument(help: ArgumentHelp("Node ids or hostnames.", valueName: "node"))
    var nodes: [String]

    func run() async throws {
        try await client.withManager { manager in
            try await Output.forEach(nodes) { try await manager.removeNode($0, force: force) }
        }
    }
}
