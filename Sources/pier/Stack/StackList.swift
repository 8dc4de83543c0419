import ArgumentParser
import PierClient

/// `pier stack ls`.
struct StackList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List stacks.", aliases: ["list"])

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let stacks = try await client.withManager { try await $0.listStacks() }
        try Output.listing(stacks, format: output.format) { StackListing.table(stacks) }
    }
}
