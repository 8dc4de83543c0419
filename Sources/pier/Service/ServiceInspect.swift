import ArgumentParser
import PierClient
import PierCluster

/// `pier service inspect`.
struct ServiceInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show services in detail, as a JSON array (or readable with --pretty).")

    @OptionGroup var client: ClientOptions
    @Flag(help: "Print the fields people read instead of JSON.")
    var pretty = false
    @Argument(help: ArgumentHelp("Service names or ids.", valueName: "service"))
    var services: [String]

    func run() async throws {
        let (found, failures) = try await client.withManager { manager in
            var found: [Service] = []
            var failures: [String] = []
            for service in services {
                do { found.append(try await manager.inspectService(service)) } catch { failures.append("\(error)") }
            }
            return (found, failures)
        }
        if pretty {
            Output.print(found.map(PrettyInspect.service).joined(separator: "\n"))
        } else {
            Output.print(try JSONOutput.render(found))
        }
        for failure in failures { Output.printError("Error: \(failure)\n") }
        if !failures.isEmpty { throw ExitCode.failure }
    }
}
