import ArgumentParser
import PierClient

/// `pier image inspect`.
struct ImageInspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show images in detail, as a JSON array.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("Image names, digests or digest prefixes.", valueName: "image"))
    var images: [String]

    func run() async throws {
        let (found, failures) = try await client.withClient { agent in
            var found: [InspectedObject] = []
            var failures: [String] = []
            for image in images {
                do { found.append(.image(try await agent.inspectImage(image))) } catch { failures.append("\(error)") }
            }
            return (found, failures)
        }
        Output.print(try JSONOutput.render(found))
        for failure in failures { Output.printError("Error: \(failure)\n") }
        if !failures.isEmpty { throw ExitCode.failure }
    }
}
