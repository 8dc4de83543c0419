import ArgumentParser
import PierClient

/// `pier image export NAME PATH`.
struct ImageExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write an image to an oci-archive file.",
        discussion: "The archive is written to PATH.tmp and renamed to PATH when complete; skopeo and docker load read it.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("The image: name, digest or digest prefix.", valueName: "image"))
    var image: String
    @Argument(help: ArgumentHelp("The archive to write.", valueName: "path"))
    var path: String

    func run() async throws {
        try await client.withClient { try await $0.exportImage(image, to: path) }
    }
}
