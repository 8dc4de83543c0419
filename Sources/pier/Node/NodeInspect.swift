import ArgumentParser
import PierClient
import PierCluster

/// `pier node inspect`.
struct NodeInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show nodes in detail, as a JSON array (or readable with --pretty).")

    @OptionGroup var client: ClientOptions
    @Flag(help: "Print the fields people read instead of JSON.")
    var pretty = false
    @Argument(help: ArgumentHelp("Node ids or hostnames.", valueName: "node"))
    var nodes: [String]

    func run() async throws {
        let (found, failures) = try await client.withManager { manager in
            var found: [Node] = []
            var failures: [String] = []
            for node in nodes {
                do { found.append(try await manager.inspectNode(node)) } catch { failures.append("\(error)") }
            }
            return (found, failures)
        }
        if pretty {
            Output.print(found.map(PrettyInspect.node).joined(separator: "\n"))
        } else {
            Output.print(try JSONOutput.render(found))
        }
        for failure in failures { Output.printError("Error: \(failure)\n") }
        if !failures.isEmpty { throw ExitCode.failure }
    }
}
