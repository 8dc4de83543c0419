import ArgumentParser
import Foundation
import PierClient

/// `pier ps`: list containers.
struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List containers (running ones unless -a).")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Show all containers, not only running ones.")
    var all = false
    @Flag(name: .shortAndLong, help: "Print only container ids.")
    var quiet = false
    @Flag(help: "Do not shorten ids and commands.")
    var noTrunc = false

    func run() async throws {
        let containers = try await client.withClient { try await $0.listContainers(all: all) }
        if quiet {
            Output.print(containers.map { (noTrunc ? $0.id : Identifiers.short($0.id)) + "\n" }.joined())
            return
        }
        try Output.listing(containers, format: output.format) {
            ContainerListing.table(containers, now: Date(), truncate: !noTrunc)
        }
    }
}
