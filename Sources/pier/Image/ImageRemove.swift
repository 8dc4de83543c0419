import ArgumentParser
import PierClient

/// `pier image rm`.
struct ImageRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove images.",
        discussion: "Removes the name; the image's blobs go when no name or container uses them (see pier image prune).",
        aliases: ["remove"])

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Remove even if a container uses the image.")
    var force = false
    @Argument(help: ArgumentHelp("Image names or digests.", valueName: "image"))
    var images: [String]

    func run() async throws {
        try await client.withClient { agent in
            try await Output.forEach(images) { try await agent.removeImage($0, force: force) }
        }
    }
}
