import ArgumentParser
import PierClient
import PierCluster

/// `pier node ps`: the tasks on nodes.
struct NodePs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List the tasks on nodes.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only task ids.")
    var quiet = false
    @Flag(help: "Do not shorten ids, images and errors.")
    var noTrunc = false
    @Argument(help: ArgumentHelp("Node ids or hostnames.", valueName: "node"))
    var nodes: [String]

    func run() async throws {
        let (tasks, all) = try await client.withManager { manager in
            var tasks: [ClusterTask] = []
            for node in nodes { tasks += try await manager.listTasks(node: node) }
            return (tasks, try await manager.listNodes())
        }
        try TaskOutput.print(tasks, nodes: all, format: output.format, quiet: quiet, noTrunc: noTrunc)
    }
}
