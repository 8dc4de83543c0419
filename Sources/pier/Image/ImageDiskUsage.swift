import ArgumentParser
import PierClient

/// `pier image du`: per-image size, what is shared, and totals.
struct ImageDiskUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du", abstract: "Show the disk use of images: sizes, shared layers and totals.",
        discussion: "SIZE counts an image's compressed blobs; SHARED SIZE the part other images use too; UNIQUE SIZE what only it holds. Each blob and layer is stored once.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let usage = try await client.withClient { try await $0.diskUsage() }
        switch output.format {
        case .json:
            Output.print(try JSONOutput.render(usage))
        case .table:
            Output.print(ImageListing.diskUsageTable(usage).rendered() + "\n" + ImageListing.diskUsageTotals(usage))
        }
    }
}
