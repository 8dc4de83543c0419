import ArgumentParser
import PierClient

/// `pier image import PATH`.
struct ImageImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import an image from an archive or an OCI layout directory.",
        discussion: "PATH is an oci-archive or docker-archive (as skopeo copy or docker save write them), streamed as is, or an OCI image layout directory, sent as a tar. Prints each imported image's name and digest.")

    @OptionGroup var client: ClientOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Name the imported image, e.g. sensor:1.0.", valueName: "name"))
    var tag: String?
    @Argument(help: ArgumentHelp("The archive file or layout directory.", valueName: "path"))
    var path: String

    func run() async throws {
        let source = try ImageArchiveSource(path: path)
        let imported = try await client.withClient { try await $0.importImage(from: source, tag: tag) }
        for image in imported { Output.print("\(image.name ?? "<none>") \(image.digest)\n") }
    }
}
