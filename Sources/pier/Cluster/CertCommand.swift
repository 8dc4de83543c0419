import ArgumentParser
import Foundation
import PierClient
import PierCluster

/// `pier cert create`: a client certificate from the cluster CA, for `--host tcp://…` access.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Issue client certificates for remote access over mutual TLS.",
        subcommands: [CertCreate.self]
    )
}

struct CertCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a client certificate signed by the cluster CA and save it to a directory.",
        discussion: "The directory gets node.pem, node-key.pem (mode 0600) and ca.pem. Use it with "
            + "`pier --host tcp://HOST:PORT --tls-dir DIR …` (or PIER_TLS_DIR): a manager-role certificate reaches "
            + "the manager's whole API; any certificate of the cluster reaches an agent's direct API (CPIS)."
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "manager (the whole remote API) or worker (agents' direct API only).")
    var role: String = "manager"

    @Option(name: [.short, .long], help: "Directory to write the certificate, key and CA to.")
    var output: String

    @Argument(help: "A name for the client (letters, digits, '-' and '_').")
    var name: String

    func validate() throws {
        guard NodeRole(rawValue: role) != nil else { throw ValidationError("--role: use manager or worker") }
    }

    func run() async throws {
        let request = ClientCertificateRequest(name: name, role: NodeRole(rawValue: role) ?? .manager)
        let issued = try await client.withClient { try await $0.createClientCertificate(request) }
        let dir = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let files: [(String, String, Int16)] = [
            ("node-key.pem", issued.key, 0o600), ("node.pem", issued.certificate, 0o644), ("ca.pem", issued.caCertificate, 0o644),
        ]
        for (file, text, mode) in files {
            // Created with its final mode, so the key is never readable by others, not even briefly.
            let path = dir.appendingPathComponent(file).path
            unlink(path)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
            guard fd >= 0 else { throw ValidationError("cannot create \(path): \(String(cString: strerror(errno)))") }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            try handle.write(contentsOf: Data(text.utf8))
        }
        print("wrote \(dir.path)/{node.pem,node-key.pem,ca.pem}; use: pier --host tcp://HOST:PORT --tls-dir \(dir.path) COMMAND …")
    }
}
