import ArgumentParser
import PierClient

/// `pier service scale web=3 db=1`.
struct ServiceScale: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scale", abstract: "Set the number of tasks of replicated services.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Services and their task counts.", valueName: "SERVICE=REPLICAS"))
    var scales: [String]

    func run() async throws {
        let parsed = try scales.map { text throws(ClientError) in try ServiceScaleArgument(parsing: text) }
        var failed = false
        try await client.withManager { manager in
            for scale in parsed {
                do {
                    let service = try await manager.scaleService(scale.service, replicas: scale.replicas)
                    Output.print("\(service.spec.name) scaled to \(scale.replicas)\n")
                } catch {
                    failed = true
                    Output.printError("Error: \(error)\n")
                }
            }
        }
        if failed { throw ExitCode.failure }
    }
}
