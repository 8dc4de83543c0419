import ArgumentParser
import PierClient

/// `pier stop`: the stop signal, then SIGKILL after a grace period.
struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop one or more running containers.",
        discussion: "Sends the container's stop signal (SIGTERM unless set), then SIGKILL after the grace period.")

    @OptionGroup var client: ClientOptions
    @Option(name: [.customShort("t"), .customLong("time"), .customLong("timeout")],
            help: ArgumentHelp("Seconds to wait before SIGKILL (default 10).", valueName: "seconds"))
    var time: Int?
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func validate() throws {
        if let time, time < 0 { throw ValidationError("--time \(time): give 0 or more seconds") }
    }

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(containers) { try await agent.stopContainer($0, timeout: time) }
        }
    }
}
