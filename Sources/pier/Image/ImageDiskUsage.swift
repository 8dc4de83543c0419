import ArgumentParser
import PierAPI
import PierClient
import PierCluster

/// `pier image du [IMAGE…] [--from IMAGE…] [--deltas] [--stack NAME]`.
struct ImageDiskUsage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du", abstract: "Show the disk use of images, and what installing or updating them downloads.",
        discussion: """
            Without images: every image's size, what is shared and totals. SIZE counts an image's \
            compressed blobs; SHARED SIZE the part other images use too; UNIQUE SIZE what only it \
            holds. Each blob and layer is stored once.

            With images (or --stack NAME, the images of a stack's services, on a manager): what a \
            fresh install of them downloads, every shared blob once, against each image on its own; \
            with --from, what an update from those images downloads (changed layers whole), and with \
            --deltas also what Pier's delta updates send instead. Seed 001's absolute versus \
            incremental download cost, on the images of this store.
            """)

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption
    @Option(help: ArgumentHelp("An image the device already has (repeatable): the update is from these.", valueName: "image"))
    var from: [String] = []
    @Flag(help: "With --from: also compute the delta patches of the changed layers (runs zstd on the daemon).")
    var deltas = false
    @Option(help: ArgumentHelp("The images of this stack's services (on a manager).", valueName: "name"))
    var stack: String?
    @Argument(help: ArgumentHelp("Images to analyse.", valueName: "image"))
    var images: [String] = []

    func validate() throws {
        if images.isEmpty && stack == nil && (!from.isEmpty || deltas) {
            throw ValidationError("--from and --deltas need images (or --stack) to analyse")
        }
        if deltas && from.isEmpty { throw ValidationError("--deltas needs --from: deltas are for updates") }
    }

    func run() async throws {
        if images.isEmpty && stack == nil {
            let usage = try await client.withClient { try await $0.diskUsage() }
            switch output.format {
            case .json: Output.print(try JSONOutput.render(usage))
            case .table: Output.print(ImageListing.diskUsageTable(usage).rendered() + "\n" + ImageListing.diskUsageTotals(usage))
            }
            return
        }
        let analysis = try await client.withClient { api in
            var names = images
            if let stack {
                let services = try await api.listServices().filter { $0.spec.labels[stackNamespaceLabel] == stack }
                guard !services.isEmpty else { throw ValidationError("stack \(stack) has no services here") }
                names += services.map(\.spec.task.container.image)
            }
            return try await api.downloadAnalysis(DownloadAnalysisRequest(images: names, from: from, deltas: deltas))
        }
        switch output.format {
        case .json: Output.print(try JSONOutput.render(analysis))
        case .table: Output.print(ImageListing.downloadAnalysis(analysis, from: from))
        }
    }
}
