import ArgumentParser
import Foundation
import PierClient

/// `pier node ls`.
struct NodeList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List nodes; * marks this host's node when the manager is on a local socket.",
        aliases: ["list"])

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only node ids.")
    var quiet = false

    func run() async throws {
        let nodes = try await client.withManager { try await $0.listNodes() }
        if quiet {
            Output.print(nodes.map { $0.id + "\n" }.joined())
            return
        }
        // Only a local socket means the manager (and its agent) share this host.
        var local: String?
        if case .unix = try client.endpoint() {
            local = NodeListing.localNodeID(nodes, hostname: ProcessInfo.processInfo.hostName)
        }
        try Output.listing(nodes, format: output.format) { NodeListing.table(nodes, localNodeID: local) }
        if output.format == .table { for note in NodeListing.notes(nodes) { Output.printError("Note: \(note)\n") } }
    }
}
