import ArgumentParser
import PierClient

/// `pier restart`: stop, then start again.
struct Restart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart one or more containers.")

    @OptionGroup var client: ClientOptions
    @Option(name: [.customShort("t"), .customLong("time"), .customLong("timeout")],
            help: ArgumentHelp("Seconds to wait for the container to stop before SIGKILL (default 10).", valueName: "seconds"))
    var time: Int?
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func validate() throws {
        if let time, time < 0 { throw ValidationError("--time \(time): give 0 or more seconds") }
    }

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(containers) { try await agent.restartContainer($0, timeout: time) }
        }
    }
}
