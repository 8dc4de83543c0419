import PierSpec
import ArgumentParser
import Foundation
import PierClient
import PierCluster

/// `pier registry credential create|ls|rm`: credentials for the manager's registry, for clients
/// without a cluster certificate (`docker login`, `skopeo --creds`, `pier image pull --creds`).
struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry", abstract: "Manage access to the manager's registry.",
        subcommands: [RegistryCredentialCommand.self])
}

struct RegistryCredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "Manage registry credentials (a name and a secret, exchanged for short-lived bearer tokens).",
        discussion: """
            A client presents NAME and the secret as user name and password: `docker login HOST:PORT -u NAME`, \
            `skopeo copy --creds NAME:SECRET …`, `pier image pull --creds NAME:SECRET HOST:PORT/IMAGE`. \
            The registry answers such clients with a Bearer challenge; they fetch a token from \
            https://HOST:PORT/v1/registry/token, valid 15 minutes.
            """,
        subcommands: [RegistryCredentialCreate.self, RegistryCredentialList.self, RegistryCredentialRemove.self])
}

struct RegistryCredentialCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a credential and print its secret (shown this once).")

    @OptionGroup var client: ClientOptions
    @Flag(help: "Allow pushes and deletes too (default: pulls only).")
    var push = false
    @Option(help: ArgumentHelp("Stop working after this long, e.g. 720h (default: until removed).", valueName: "duration"))
    var expires: String?
    @Flag(name: .shortAndLong, help: "Print only the secret.")
    var quiet = false
    @Argument(help: "Its name, the user name clients log in with.")
    var name: String

    func run() async throws {
        var expiresIn: Int?
        if let expires {
            guard let seconds = GoDuration.seconds(expires), seconds >= 1 else {
                throw ValidationError("--expires \(expires): give a duration such as 720h or 30m")
            }
            expiresIn = Int(seconds)
        }
        let request = RegistryCredentialRequest(name: name, push: push, expiresIn: expiresIn)
        let created = try await client.withManager { try await $0.createRegistryCredential(request) }
        if quiet {
            Output.print(created.secret + "\n")
            return
        }
        Output.print("""
            Created registry credential \(created.credential.name) (\(created.credential.access)). Its secret, shown only now:

                \(created.secret)

            Log in with: docker login HOST:PORT -u \(created.credential.name) --password-stdin

            """)
    }
}

struct RegistryCredentialList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List registry credentials.", aliases: ["list"])

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let credentials = try await client.withManager { try await $0.registryCredentials() }
        let now = Date()
        try Output.listing(credentials, format: output.format) {
            TextTable(header: ["NAME", "ACCESS", "CREATED", "EXPIRES"], rows: credentials.map { c in
                [c.name, c.access, ContainerStatus.ago(c.createdAt, now: now),
                 c.expiresAt.map { $0 <= now ? "expired" : "in " + HumanDuration.describe(seconds: $0.timeIntervalSince(now)) } ?? "never"]
            })
        }
    }
}

struct RegistryCredentialRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove registry credentials (their tokens lapse within 15 minutes).", aliases: ["remove"])

    @OptionGroup var client: ClientOptions
    @Argument(help: "The credentials to remove.")
    var names: [String]

    func run() async throws {
        try await client.withManager { manager in
            for name in names {
                try await manager.removeRegistryCredential(name)
                Output.print(name + "\n")
            }
        }
    }
}
