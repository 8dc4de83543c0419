import ArgumentParser
import PierClient

/// `pier wait`: block until containers stop, print their exit codes.
struct Wait: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Wait until one or more containers stop, then print their exit codes.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Container ids or names.", valueName: "container"))
    var containers: [String]

    func run() async throws {
        try await client.withClient { agent in
            var failed = false
            for container in containers {
                do {
                    let exit = try await agent.waitContainer(container)
                    Output.print("\(exit.exitCode)\n")
                } catch {
                    failed = true
                    Output.printError("Error: \(error)\n")
                }
            }
            if failed { throw ExitCode.failure }
        }
    }
}
