import ArgumentParser
import Foundation
import PierClient
import PierOCI

/// `pier image sign --key KEY IMAGE`.
struct ImageSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Sign an image with an ed25519 key.",
        discussion: "The client signs the image's manifest digest with the private key (which never leaves the client) and the daemon adds the signature to an OCI artifact whose subject is the manifest, tagged sha256-<hex>.sig in the image's repository (one signature per key: a second key adds its own, the same key signing again replaces its own; at most 16). It travels with `pier image push`, and agents and managers started with --trust-key run only images signed by a trusted key.")

    @OptionGroup var client: ClientOptions
    @Option(help: ArgumentHelp("The private key file (`pier key create`).", valueName: "file.key"))
    var key: String
    @Argument(help: ArgumentHelp("The image.", valueName: "image"))
    var image: String

    func run() async throws {
        guard let text = try? String(contentsOfFile: key, encoding: .utf8) else { throw ValidationError("--key \(key): cannot read it") }
        let signing: SigningKey
        do { signing = try SigningKey.parse(text) } catch { throw ValidationError("--key \(key): \(error)") }
        let stored = try await client.withClient { api in
            let details = try await api.inspectImage(image)
            let digest = try Digest(parsing: details.summary.digest)
            return (digest, try await api.addImageSignature(image, try signing.sign(digest)))
        }
        Output.print("signed \(image) (\(stored.0)) with key \(signing.publicKey.id): signature \(stored.1.digest)\n")
    }
}

/// `pier image verify --key PUB IMAGE`.
struct ImageVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check that an image is signed by a trusted key.",
        discussion: "Exits 0 and names the key when one of the signatures stored for the image's manifest verifies with one of the --key public keys; exits 1 otherwise.")

    @OptionGroup var client: ClientOptions
    @Option(help: ArgumentHelp("A trusted public key file (repeatable).", valueName: "file.pub"))
    var key: [String]
    @Argument(help: ArgumentHelp("The image.", valueName: "image"))
    var image: String

    func validate() throws {
        guard !key.isEmpty else { throw ValidationError("give at least one --key") }
    }

    func run() async throws {
        var trusted: [TrustedKey] = []
        for path in key {
            do { trusted.append(try TrustedKey.load(path)) } catch { throw ValidationError("--key \(path): \(error)") }
        }
        let (digest, signatures) = try await client.withClient { api in
            (try Digest(parsing: try await api.inspectImage(image).summary.digest), try await api.imageSignatures(image))
        }
        for signature in signatures {
            if let trustedKey = trusted.first(where: { $0.verifies(signature, of: digest) }) {
                Output.print("\(image) (\(digest)) is signed by trusted key \(trustedKey.id)\n")
                return
            }
        }
        Output.printError("\(image) (\(digest)) carries \(signatures.count) signature\(signatures.count == 1 ? "" : "s"), none by a trusted key\n")
        throw ExitCode(1)
    }
}

/// `pier key create NAME`.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Make signing keys for images.", subcommands: [KeyCreate.self])
}

struct KeyCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Make an ed25519 key pair: NAME.key (mode 0600) and NAME.pub.",
        discussion: "Sign with `pier image sign --key NAME.key IMAGE`; give NAME.pub to `pier agent|manager|up --trust-key` and `pier image verify --key`.")

    @Option(name: [.short, .long], help: "Directory to write the key files to.")
    var output: String = "."
    @Argument(help: ArgumentHelp("The key's name.", valueName: "name"))
    var name: String

    func run() throws {
        guard !name.isEmpty, !name.contains("/") else { throw ValidationError("the name \"\(name)\" must not be empty or contain /") }
        let dir = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = SigningKey()
        let privatePath = dir.appendingPathComponent("\(name).key").path, publicPath = dir.appendingPathComponent("\(name).pub").path
        guard !FileManager.default.fileExists(atPath: privatePath) else { throw ValidationError("\(privatePath) exists; not overwriting a key") }
        // Created with its final mode, so the private key is never readable by others.
        let fd = open(privatePath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(privatePath): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try handle.write(contentsOf: Data(key.pem.utf8))
        try Data(key.publicKey.pem.utf8).write(to: URL(fileURLWithPath: publicPath))
        Output.print("wrote \(privatePath) and \(publicPath) (key \(key.publicKey.id))\n")
    }
}
