import ArgumentParser
import PierAPI
import PierClient

/// `pier version`: the client's version, and the agent's when it answers.
struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Show the versions of this client and of the agent.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    struct Versions: Encodable {
        var client: String
        var agent: AgentInfo?
    }

    func run() async throws {
        let agent: Result<AgentInfo, any Error>
        do {
            agent = .success(try await client.withClient { try await $0.info() })
        } catch {
            agent = .failure(error)
        }
        switch output.format {
        case .json:
            Output.print(try JSONOutput.render(Versions(client: ClientVersion.current, agent: try? agent.get())))
        case .table:
            Output.print("Client:\n Version:  \(ClientVersion.current)\n")
            if case .success(let info) = agent {
                Output.print("Agent:\n Version:  \(info.version)\n OS/Arch:  \(info.os)/\(info.architecture)\n Runtime:  \(info.runtime)\n")
            }
        }
        if case .failure(let error) = agent { throw error }
    }
}
