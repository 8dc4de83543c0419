import ArgumentParser
import Foundation
import PierAPI
import PierClient

/// `pier exec`: run a command in a running container, exit with its exit code.
struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run a command in a running container.",
        discussion: "Output is streamed here; pier exits with the command's exit code (126/127 as the agent reports them). Everything after CONTAINER belongs to the command: pier exec web ls -l /")

    @OptionGroup var client: ClientOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable; KEY alone takes its value from this shell.", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Working directory inside the container.", valueName: "dir"))
    var workdir: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("User to run as: name, uid, name:group or uid:gid.", valueName: "user"))
    var user: String?
    @Argument(help: ArgumentHelp("Container id or name.", valueName: "container"))
    var container: String
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments.", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run: pier exec CONTAINER COMMAND [ARG...]") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var resolved: [String] = []
        for entry in env {
            if let value = try EnvFile.resolve(entry, environment: environment, origin: "-e") { resolved.append(value) }
        }
        let request = ExecRequest(command: command, env: resolved, workdir: workdir, user: user)
        let status = try await client.withClient { agent in
            let stream = try await agent.exec(container, request)
            let exit = try await stream.pumpUntilExit(into: StandardStreams())
            if let error = exit.error { Output.printError("Error: \(error)\n") }
            return exit.exitCode
        }
        if status != 0 { throw ExitCode(status) }
    }
}
