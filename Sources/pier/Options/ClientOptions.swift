import ArgumentParser
import Foundation
import PierClient

/// `--host`, shared by every command that talks to the agent.
struct ClientOptions: ParsableArguments {
    @Option(name: [.customShort("H"), .long],
            help: ArgumentHelp("The agent: unix:///PATH (default: $PIER_HOST, else unix:///var/lib/pier/pier.sock).",
                               valueName: "address"))
    var host: String?

    /// The endpoint named by `--host`, else `PIER_HOST`, else the default socket.
    func endpoint() throws -> AgentEndpoint {
        try AgentEndpoint.resolve(flag: host, environment: ProcessInfo.processInfo.environment)
    }

    /// Runs `body` with a client for the agent, shut down afterwards.
    func withClient<R: Sendable>(_ body: (AgentClient) async throws -> R) async throws -> R {
        try await AgentClient.withClient(endpoint: endpoint(), body)
    }
}
