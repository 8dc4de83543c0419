import ArgumentParser
import PierClient
import PierCluster

/// `pier join-token worker|manager`: the token a node joins with, and the command to run.
/// (Not named `JoinToken`: that is PierPKI's token type, which the agent's join code uses.)
struct JoinTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join-token", abstract: "Print (or rotate) the token nodes join the cluster with.")

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Print only the token.")
    var quiet = false
    @Flag(help: "Replace the token; the old one no longer admits anyone (nodes that joined stay).")
    var rotate = false
    @Option(help: ArgumentHelp("The manager's address agents reach, shown in the join command.", valueName: "HOST:PORT"))
    var managerAddress: String?
    @Argument(help: ArgumentHelp("worker or manager.", valueName: "role"))
    var role: Role

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case worker, manager
        var nodeRole: NodeRole { self == .worker ? .worker : .manager }
    }

    func run() async throws {
        let tokens = try await client.withClient { manager in
            if rotate { return try await manager.rotateJoinToken(role: role.nodeRole) }
            return try await manager.joinTokens()
        }
        let token = JoinTokenText.token(tokens, role: role.nodeRole)
        if quiet {
            Output.print(token + "\n")
            return
        }
        if rotate { Output.print("Successfully rotated \(role.rawValue) join token.\n\n") }
        Output.print(JoinTokenText.instructions(role: role.nodeRole, token: token, managerAddress: managerAddress))
    }
}
