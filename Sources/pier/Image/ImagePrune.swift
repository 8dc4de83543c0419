import ArgumentParser
import PierClient

/// `pier image prune`.
struct ImagePrune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune", abstract: "Remove blobs and unpacked layers that no image or container uses.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let report = try await client.withClient { try await $0.pruneImages() }
        switch output.format {
        case .json:
            Output.print(try JSONOutput.render(report))
        case .table:
            for image in report.removedImages { Output.print("Deleted: \(image)\n") }
            Output.print("Removed \(report.removedBlobs) blobs and \(report.removedLayers) unpacked layers\n")
            Output.print("Total reclaimed space: \(ByteSize.human(report.reclaimedBytes))\n")
        }
    }
}
