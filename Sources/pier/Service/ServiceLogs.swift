import ArgumentParser
import PierClient

/// `pier service logs`: not served by the manager yet; says so instead of pretending.
struct ServiceLogs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show a service's output (not available yet).")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Service name or id.", valueName: "service"))
    var service: String

    func run() async throws {
        throw ClientError.invalidArgument(
            "pier service logs is not available yet: the manager's API has no logs route. Find the task's node with `pier service ps \(service)` and run `pier --host <that node's socket> logs <container>` there")
    }
}
