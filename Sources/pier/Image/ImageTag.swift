import ArgumentParser
import PierClient

/// `pier image tag SRC DST`.
struct ImageTag: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Give an image another name.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("The image: name, digest or digest prefix.", valueName: "source"))
    var source: String
    @Argument(help: ArgumentHelp("The new name, e.g. sensor:1.1.", valueName: "target"))
    var target: String

    func run() async throws {
        try await client.withClient { try await $0.tagImage(source, as: target) }
    }
}
