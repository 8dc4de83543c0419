import ArgumentParser
import Foundation
import PierClient
import PierCluster

/// `pier stack deploy -c compose.yml NAME`.
struct StackDeploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy", abstract: "Deploy a compose file as a stack, or update one.",
        discussion: """
        Services are named STACK_SERVICE. Services of the stack the file no longer names are removed. \
        ${VAR} in the file takes its value from this shell's environment; relative bind-mount paths \
        are relative to the file's directory.
        """,
        aliases: ["up"])

    @OptionGroup var client: ClientOptions
    @Option(name: [.customShort("c"), .customLong("compose-file")], help: ArgumentHelp("The compose file.", valueName: "file"))
    var composeFile: String
    @Argument(help: ArgumentHelp("Name of the stack.", valueName: "stack"))
    var stack: String

    func run() async throws {
        let url = URL(fileURLWithPath: composeFile)
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ClientError.file(path: composeFile, reason: "cannot read the compose file: \(error.localizedDescription)")
        }
        let request = StackDeployRequest(
            compose: text, environment: ProcessInfo.processInfo.environment,
            directory: url.standardizedFileURL.deletingLastPathComponent().path)
        let result = try await client.withManager { try await $0.deployStack(stack, request) }
        Output.print(StackListing.deployReport(result))
    }
}
