import ArgumentParser
import PierClient

/// `pier logs`: what a container wrote, and with -f what it writes next.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print a container's output.",
        discussion: "stdout goes to stdout and stderr to stderr. With -f pier keeps printing until the container stops or you press Ctrl-C.")

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Keep printing new output as it comes.")
    var follow = false
    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Lines to show from the end, or all.", valueName: "n"))
    var tail: String = "all"
    @Flag(name: .shortAndLong, help: "Prefix each line with the time it was written.")
    var timestamps = false
    @Argument(help: ArgumentHelp("Container id or name.", valueName: "container"))
    var container: String

    func validate() throws {
        if tail != "all" && (Int(tail) ?? -1) < 0 { throw ValidationError("--tail \(tail): give a number of lines or all") }
    }

    func run() async throws {
        try await client.withClient { agent in
            let stream = try await agent.logs(container, follow: follow, tail: tail == "all" ? nil : Int(tail), timestamps: timestamps)
            _ = try await stream.pump(into: StandardStreams())
        }
    }
}
