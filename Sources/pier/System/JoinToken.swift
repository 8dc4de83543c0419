import ArgumentParser
import PierClient
import PierCluster

/// `pier join-token worker|manager`: a new token nodes join with, and the command to run.
/// (Not named `JoinToken`: that is PierPKI's token type, which the agent's join code uses.)
struct JoinTokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join-token",
        abstract: "Make a new token nodes join the cluster with, and print it.",
        discussion: "The manager keeps only a hash of each token, so a token is shown once: every call makes a new one "
            + "and the previous token of that role no longer admits anyone (nodes that joined stay).")

    @OptionGroup var client: ClientOptions
    @Flag(name: .shortAndLong, help: "Print only the token.")
    var quiet = false
    @Flag(help: "Accepted for compatibility: every call makes a new token.")
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
        let issued = try await client.withManager { try await $0.rotateJoinToken(role: role.nodeRole) }
        if quiet {
            Output.print(issued.token + "\n")
            return
        }
        Output.print(JoinTokenText.instructions(role: role.nodeRole, token: issued.token, managerAddress: managerAddress))
    }
}
