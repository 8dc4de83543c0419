import ArgumentParser
import Foundation
import PierAccess
import PierClient

/// `--host`, shared by every command that talks to the agent.
struct ClientOptions: ParsableArguments {
    @Option(name: [.customShort("H"), .long],
            help: ArgumentHelp("The agent or manager: unix:///PATH or tcp://HOST:PORT with --tls-dir (default: $PIER_HOST, else unix:///var/lib/pier/pier.sock).",
                               valueName: "address"))
    var host: String?

    @Option(help: ArgumentHelp("For tcp:// hosts: the directory with node.pem, node-key.pem and ca.pem (default: $PIER_TLS_DIR).",
                               valueName: "dir"))
    var tlsDir: String?

    /// The same settings as a plain value.
    var settings: ClientSettings { ClientSettings(host: host, tlsDir: tlsDir) }

    var configuration: AgentClient.Configuration { settings.configuration }

    /// The endpoint named by `--host`, else `PIER_HOST`, else the default socket.
    func endpoint() throws -> AgentEndpoint { try settings.endpoint() }

    /// Runs `body` with a client for the agent, shut down afterwards.
    func withClient<R: Sendable>(_ body: (AgentClient) async throws -> R) async throws -> R {
        try await settings.withClient(body)
    }

    /// Runs `body` with a client for a manager: over TCP the server must hold a manager's
    /// certificate, or nothing is sent.
    func withManager<R: Sendable>(_ body: (AgentClient) async throws -> R) async throws -> R {
        try await settings.withClient(serverRole: .manager, body)
    }
}

/// `--host` and `--tls-dir` as values (what `ClientOptions` parsed, or `RunFastPath`).
struct ClientSettings: Equatable {
    var host: String?
    var tlsDir: String?

    var configuration: AgentClient.Configuration {
        AgentClient.Configuration(tlsDirectory: tlsDir ?? ProcessInfo.processInfo.environment["PIER_TLS_DIR"])
    }

    func endpoint() throws -> AgentEndpoint {
        try AgentEndpoint.resolve(flag: host, environment: ProcessInfo.processInfo.environment)
    }

    /// - Parameter serverRole: over TCP, the role the server must hold; nil: any node.
    func withClient<R: Sendable>(serverRole: Role? = nil, _ body: (AgentClient) async throws -> R) async throws -> R {
        var configuration = self.configuration
        configuration.serverRole = serverRole
        return try await AgentClient.withClient(endpoint: endpoint(), configuration: configuration, body)
    }
}
