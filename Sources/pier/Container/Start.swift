import ArgumentParser
import PierClient

/// `pier start`: start stopped containers.
struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start one or more stopped containers.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(containers) { try await agent.startContainer($0) }
        }
    }
}
