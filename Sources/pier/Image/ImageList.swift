import ArgumentParser
import Foundation
import PierClient

/// `pier image ls`.
struct ImageList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Flag(name: .shortAndLong, help: "Print only image ids (the first 12 hex digits of the digest).")
    var quiet = false
    @Flag(help: "Print whole digests as image ids.")
    var noTrunc = false

    func run() async throws {
        let images = try await client.withClient { try await $0.listImages() }
        if quiet {
            Output.print(images.map { (noTrunc ? $0.digest : Identifiers.short($0.digest)) + "\n" }.joined())
            return
        }
        try Output.listing(images, format: output.format) { ImageListing.table(images, now: Date(), truncate: !noTrunc) }
    }
}
