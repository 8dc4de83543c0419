import PierSpec
import ArgumentParser
import PierClient

/// `pier kill`: send a signal to the container's main process.
struct Kill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill",
        abstract: "Send a signal (default SIGKILL) to one or more containers.")

    @OptionGroup var client: ClientOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Signal name or number, e.g. HUP, SIGTERM or 9.", valueName: "signal"))
    var signal: String = "KILL"
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(containers) { try await agent.killContainer($0, signal: signal) }
        }
    }
}
