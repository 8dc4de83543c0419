import ArgumentParser
import PierClient

/// `pier service rm`.
struct ServiceRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove services and their tasks.", aliases: ["remove"])

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Service names or ids.", valueName: "service"))
    var services: [String]

    func run() async throws {
        try await client.withManager { manager in
            try await Output.forEach(services) { try await manager.removeService($0) }
        }
    }
}
