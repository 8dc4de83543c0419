import ArgumentParser
import PierClient

/// `pier service logs`: the output of every task of a service, gathered by the manager from
/// the nodes over their sessions, each line prefixed `NAME.SLOT.TASK@NODE | ` as Docker does.
struct ServiceLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the output of a service's tasks.",
        discussion: "Each line is prefixed with its task and node. Tasks on a node that is not connected are named on stderr. "
            + "With -f pier keeps printing until you press Ctrl-C.")

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Keep printing new output as it comes.")
    var follow = false
    @Option(name: [.customShort("n"), .long], help: ArgumentHelp("Lines to show from the end of each task's output, or all.", valueName: "n"))
    var tail: String = "all"
    @Flag(name: .shortAndLong, help: "Prefix each line with the time it was written.")
    var timestamps = false
    @Argument(help: ArgumentHelp("Service name or id.", valueName: "service"))
    var service: String

    func validate() throws {
        if tail != "all" && (Int(tail) ?? -1) < 0 { throw ValidationError("--tail \(tail): give a number of lines or all") }
    }

    func run() async throws {
        try await client.withManager { manager in
            let stream = try await manager.serviceLogs(service, follow: follow, tail: tail == "all" ? nil : Int(tail), timestamps: timestamps)
            _ = try await stream.pump(into: StandardStreams())
        }
    }
}
