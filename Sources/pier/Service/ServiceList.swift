import ArgumentParser
import PierClient
import PierCluster

/// `pier service ls`.
struct ServiceList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List services.", aliases: ["list"])

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only service ids.")
    var quiet = false

    func run() async throws {
        let (services, tasks, nodes) = try await client.withManager { manager -> ([Service], [ClusterTask], [Node]) in
            let services = try await manager.listServices()
            if quiet { return (services, [], []) }
            return (services, try await manager.listTasks(), try await manager.listNodes())
        }
        if quiet {
            Output.print(services.map { Identifiers.short($0.id) + "\n" }.joined())
            return
        }
        let entries = ServiceListing.entries(services, tasks: tasks, nodes: nodes)
        try Output.listing(entries, format: output.format) { ServiceListing.table(entries) }
    }
}
