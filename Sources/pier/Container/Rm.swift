import ArgumentParser
import PierClient

/// `pier rm`: remove containers.
struct Rm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove one or more containers.")

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Kill and remove running containers too.")
    var force = false
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(containers) { try await agent.removeContainer($0, force: force) }
        }
    }
}
