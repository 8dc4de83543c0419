import ArgumentParser
import PierClient
import PierCluster

/// `pier stack ps`: the tasks of a stack's services.
struct StackPs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List the tasks of a stack.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only task ids.")
    var quiet = false
    @Flag(help: "Do not shorten ids, images and errors.")
    var noTrunc = false
    @Argument(help: ArgumentHelp("Name of the stack.", valueName: "stack"))
    var stack: String

    func run() async throws {
        let (tasks, nodes) = try await client.withManager { manager in
            let members = Set(StackListing.members(of: stack, in: try await manager.listServices()).map(\.id))
            guard !members.isEmpty else { throw ClientError.api(status: 404, message: "no such stack: \(stack) (pier stack ls lists them)") }
            let tasks = try await manager.listTasks().filter { members.contains($0.serviceID) }
            return (tasks, try await manager.listNodes())
        }
        try TaskOutput.print(tasks, nodes: nodes, format: output.format, quiet: quiet, noTrunc: noTrunc)
    }
}
