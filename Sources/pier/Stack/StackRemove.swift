import ArgumentParser
import PierClient

/// `pier stack rm`.
struct StackRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove stacks and their services.", aliases: ["remove", "down"])

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Stack names.", valueName: "stack"))
    var stacks: [String]

    func run() async throws {
        try await client.withManager { manager in
            try await Output.forEach(stacks) { try await manager.removeStack($0) }
        }
    }
}
