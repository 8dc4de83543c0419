import ArgumentParser
import Foundation
import PierClient
import PierCluster

/// `pier service ps`: a service's tasks with their history, as `docker service ps`.
struct ServicePs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List the tasks of services, the tasks they replaced below them.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only task ids.")
    var quiet = false
    @Flag(help: "Do not shorten ids, images and errors.")
    var noTrunc = false
    @Argument(help: ArgumentHelp("Service names or ids.", valueName: "service"))
    var services: [String]

    func run() async throws {
        let (tasks, nodes) = try await client.withManager { manager in
            var tasks: [ClusterTask] = []
            for service in services { tasks += try await manager.listServiceTasks(service) }
            return (tasks, try await manager.listNodes())
        }
        try TaskOutput.print(tasks, nodes: nodes, format: output.format, quiet: quiet, noTrunc: noTrunc)
    }
}

/// Printing of task listings, shared by `service ps`, `node ps` and `stack ps`.
enum TaskOutput {
    static func print(_ tasks: [ClusterTask], nodes: [Node], format: ListingFormat, quiet: Bool, noTrunc: Bool) throws {
        let ordered = TaskListing.ordered(tasks).map(\.task)
        if quiet {
            Output.print(ordered.map { (noTrunc ? $0.id : Identifiers.short($0.id)) + "\n" }.joined())
            return
        }
        try Output.listing(ordered, format: format) {
            TaskListing.table(ordered, nodes: nodes, now: Date(), truncate: !noTrunc)
        }
    }
}
