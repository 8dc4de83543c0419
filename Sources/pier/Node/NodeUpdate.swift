import ArgumentParser
import PierClient
import PierCluster

extension NodeAvailability: ExpressibleByArgument {}

/// `pier node update --availability drain --label-add zone=a NODE`.
struct NodeUpdate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Change a node's availability or labels.",
        discussion: "drain moves the node's tasks elsewhere; pause keeps them but places no new ones; active places tasks again.")

    @OptionGroup var client: ClientOptions
    @Option(help: ArgumentHelp("active, pause or drain.", valueName: "availability"))
    var availability: NodeAvailability?
    @Option(help: ArgumentHelp("Add or replace a node label, used by constraints and spread.", valueName: "KEY=VALUE"))
    var labelAdd: [String] = []
    @Option(help: ArgumentHelp("Remove a node label.", valueName: "KEY"))
    var labelRm: [String] = []
    @Argument(help: ArgumentHelp("Node id or hostname.", valueName: "node"))
    var node: String

    func run() async throws {
        let request = try NodeUpdateOptions(availability: availability, labelAdd: labelAdd, labelRemove: labelRm).request()
        let updated = try await client.withManager { try await $0.updateNode(node, request) }
        Output.print(updated.id + "\n")
    }
}
