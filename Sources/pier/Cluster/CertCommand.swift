import PierSpec
import ArgumentParser
import Foundation
import PierAccess
import PierClient
import PierCluster
import PierPKI

/// `pier cert create|ls|revoke`: client certificates from the cluster CA, for people and tools
/// that reach the manager or an agent's direct port over mutual TLS.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue, list and revoke client certificates for remote access over mutual TLS.",
        subcommands: [CertCreate.self, CertList.self, CertRevoke.self]
    )
}

struct CertCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a client certificate signed by the cluster CA and save it to a directory.",
        discussion: "The key is made here and never leaves this machine; the manager signs a request for it. The directory gets "
            + "node.pem, node-key.pem (mode 0600) and ca.pem. Use it with `pier --host tcp://HOST:PORT --tls-dir DIR …` (or "
            + "PIER_TLS_DIR) against the manager's TCP port or an agent's direct port.\n\n"
            + "Roles: admin (everything), operator (deploy, scale, update, stop, logs; no privileged containers, host network, "
            + "bind mounts, devices or added capabilities, no exec, no image import), readonly (look only)."
    )

    @OptionGroup var client: ClientOptions

    @Option(help: ArgumentHelp("admin, operator or readonly.", valueName: "role"))
    var role: String

    @Option(help: ArgumentHelp("How long the certificate is valid: e.g. 30d, 12h, 90m (60s to 366d).", valueName: "duration"))
    var expires: String = "30d"

    @Option(name: [.short, .long], help: "Directory to write the certificate, key and CA to.")
    var output: String

    @Argument(help: "A name for the client (letters, digits, '-' and '_').")
    var name: String

    var parsedRole: Role? { Role(rawValue: role).flatMap { $0.isNode ? nil : $0 } }

    func validate() throws {
        guard parsedRole != nil else { throw ValidationError("--role \(role): use admin, operator or readonly") }
        guard let seconds = CertificateLifetime.seconds(expires), (60...(366 * 86400)).contains(seconds) else {
            throw ValidationError("--expires \(expires): give a duration from 60s to 366d, e.g. 30d or 12h")
        }
    }

    func run() async throws {
        guard let role = parsedRole, let seconds = CertificateLifetime.seconds(expires) else { throw ExitCode.validationFailure }
        let request = try CertificateRequest.generate(commonName: "client-" + name)
        let issued = try await client.withManager {
            try await $0.createClientCertificate(ClientCertificateRequest(name: name, role: role, csr: try request.pemString(), expiresIn: seconds))
        }
        // The answer must certify this key, for this name and role, under the CA it names.
        let identity = try request.identity(certificatePEM: issued.certificate, rootsPEM: issued.caCertificate)
        guard identity.role == role, identity.nodeID == "client-" + name else {
            throw ValidationError("the manager issued a certificate for \(identity.nodeID) (\(identity.role)), not client-\(name) (\(role))")
        }
        let dir = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try identity.save(to: dir.path)
        print("wrote \(dir.path)/{node.pem,node-key.pem,ca.pem}: \(role) certificate client-\(name), serial \(issued.info.serial), "
            + "valid until \(ISO8601DateFormatter().string(from: issued.info.expiresAt))")
        print("use: pier --host tcp://HOST:PORT --tls-dir \(dir.path) COMMAND …")
    }
}

struct CertList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls", abstract: "List the client certificates issued and not expired.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let certificates = try await client.withManager { try await $0.clientCertificates() }
        let now = Date()
        try Output.listing(certificates, format: output.format) {
            TextTable(header: ["NAME", "ROLE", "SERIAL", "ISSUED", "EXPIRES", "STATUS"], rows: certificates.map { c in
                [c.name, c.role.rawValue, c.serial, ContainerStatus.ago(c.issuedAt, now: now),
                 "in " + HumanDuration.describe(seconds: c.expiresAt.timeIntervalSince(now)), c.revoked ? "revoked" : "valid"]
            })
        }
    }
}

struct CertRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a client's certificates (by name) or one certificate (by serial).",
        discussion: "The manager refuses them at once, and sends the revocation to every agent, which refuses them on its "
            + "direct port from then on, also while the manager is unreachable. Nodes are removed with `pier node rm`.")

    @OptionGroup var client: ClientOptions
    @Argument(help: ArgumentHelp("A client name or a certificate's serial number (pier cert ls).", valueName: "name|serial"))
    var target: String

    func run() async throws {
        let revoked = try await client.withManager { try await $0.revokeClientCertificate(target) }
        for c in revoked { Output.print("revoked \(c.name) (\(c.role.rawValue)) serial \(c.serial)\n") }
    }
}

/// `30d`, or a Go duration (`12h`, `90m`): whole seconds.
enum CertificateLifetime {
    static func seconds(_ text: String) -> Int? {
        let value: Double?
        if text.hasSuffix("d"), let days = Double(text.dropLast()) { value = days * 86400 } else { value = GoDuration.seconds(text) }
        guard let value, value.isFinite, value >= 0, value < 1e9 else { return nil }
        return Int(value)
    }
}
