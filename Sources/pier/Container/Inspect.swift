import PierSpec
import ArgumentParser
import PierClient

/// `pier inspect`: containers or images as JSON.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show containers or images in detail, as a JSON array.",
        discussion: "Each name is looked up as a container first, then as an image, unless --type says which.")

    enum Kind: String, ExpressibleByArgument, CaseIterable { case container, image }

    @OptionGroup var client: ClientOptions
    @Option(help: "Look up only this kind of object: container or image.")
    var type: Kind?
    @Argument(help: ArgumentHelp("Container or image names or ids.", valueName: "name"))
    var names: [String]

    func run() async throws {
        let (found, failures) = try await client.withClient { agent in
            var found: [InspectedObject] = []
            var failures: [String] = []
            for name in names {
                do {
                    found.append(try await lookUp(name, agent: agent))
                } catch {
                    failures.append("\(error)")
                }
            }
            return (found, failures)
        }
        Output.print(try JSONOutput.render(found))
        for failure in failures { Output.printError("Error: \(failure)\n") }
        if !failures.isEmpty { throw ExitCode.failure }
    }

    func lookUp(_ name: String, agent: AgentClient) async throws -> InspectedObject {
        switch type {
        case .container: return .container(try await agent.inspectContainer(name))
        case .image: return .image(try await agent.inspectImage(name))
        case nil:
            do {
                return .container(try await agent.inspectContainer(name))
            } catch let error as ClientError where error.isNotFound {
                do {
                    return .image(try await agent.inspectImage(name))
                } catch let error as ClientError where error.isNotFound {
                    throw ClientError.api(status: 404, message: "no such container or image: \(name)")
                }
            }
        }
    }
}
