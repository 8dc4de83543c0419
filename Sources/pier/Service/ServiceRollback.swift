import ArgumentParser
import PierClient

/// `pier service rollback`: back to the previous spec.
struct ServiceRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Return a service to its previous spec, under its rollback config.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Service name or id.", valueName: "service"))
    var service: String

    func run() async throws {
        let rolledBack = try await client.withManager { try await $0.rollbackService(service) }
        Output.print(rolledBack.spec.name + "\n")
    }
}
