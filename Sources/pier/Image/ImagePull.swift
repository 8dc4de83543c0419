import ArgumentParser
import PierAPI
import PierClient

/// Options `pier image pull` and `push` share: how the daemon reaches the registry.
struct RegistryAccessOptions: ParsableArguments {
    @Flag(help: "Plain HTTP instead of HTTPS (a registry on loopback or a trusted link).")
    var insecure = false

    @Option(help: ArgumentHelp(
        "A directory the daemon reads with ca.pem (trusted alone), and node.pem and node-key.pem for mutual TLS (what `pier cert create` writes).",
        discussion: "Without it a joined node uses its own cluster certificate for its manager's registry, and the system's trust store for any other.",
        valueName: "dir"))
    var certDir: String?

    @Option(help: ArgumentHelp(
        "Credentials for the registry, as skopeo takes them (a Pier registry credential's name and secret).",
        discussion: "Sent to the registry's token endpoint when it answers with a Bearer challenge (Pier's manager, Docker Hub), or as Basic auth when it asks for that.",
        valueName: "USER:PASSWORD"))
    var creds: String?

    func validate() throws {
        if let creds, !creds.contains(":") || creds.hasPrefix(":") {
            throw ValidationError("--creds: expected USER:PASSWORD")
        }
    }
}

/// `pier image pull HOST[:PORT]/REPO[:TAG|@DIGEST]`.
struct ImagePull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull", abstract: "Pull an image from a registry into the device's store.",
        discussion: "Blobs the store has are not fetched again; every blob is verified before it is stored, and a download cut off mid-blob resumes with Range. A changed layer of an image whose other version the store holds comes as a delta from a Pier registry when that is smaller (falling back to the whole layer if the delta fails in any way). The image is named as given (HOST[:PORT]/REPO:TAG). Example: pier image pull manager.local:7443/edge/app:1")

    @OptionGroup var client: ClientOptions
    @OptionGroup var access: RegistryAccessOptions
    @Flag(help: "Download changed layers whole, not as deltas against the layers of another version the store has.")
    var noDelta = false
    @Flag(name: .shortAndLong, help: "No progress lines (per layer: bytes, rate, time left) on stderr.")
    var quiet = false
    @Argument(help: ArgumentHelp("The image, with the registry host.", valueName: "image"))
    var image: String

    func run() async throws {
        let request = RegistryTransferRequest(remote: image, insecure: access.insecure, certDirectory: access.certDir, noDelta: noDelta, credentials: access.creds)
        let result = try await client.withClient { api in
            quiet ? try await api.pullImage(request) : try await api.pullImage(request, progress: StandardStreams())
        }
        let deltas = result.deltas > 0 ? ", \(result.deltas) as delta\(result.deltas == 1 ? "" : "s")" : ""
        Output.print("\(result.reference) \(result.digest) (\(result.blobs) blob\(result.blobs == 1 ? "" : "s"), \(result.bytes) bytes fetched\(deltas))\n")
    }
}

/// `pier image push NAME [TARGET]`.
struct ImagePush: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Push an image from the device's store to a registry.",
        discussion: "Blobs the registry has are skipped; the others go in chunks, and an upload cut off resumes where the registry says it stands. With one argument the image's own name says where it goes (as docker push); with two the first is the stored image and the second HOST[:PORT]/REPO:TAG. Example: pier image push sensor:1 manager.local:7443/edge/sensor:1")

    @OptionGroup var client: ClientOptions
    @OptionGroup var access: RegistryAccessOptions
    @Argument(help: ArgumentHelp("The stored image.", valueName: "name"))
    var name: String
    @Argument(help: ArgumentHelp("Where to push it, HOST[:PORT]/REPO:TAG (default: NAME).", valueName: "target"))
    var target: String?

    func run() async throws {
        let request = RegistryTransferRequest(remote: target ?? name, local: name, insecure: access.insecure, certDirectory: access.certDir, credentials: access.creds)
        let result = try await client.withClient { try await $0.pushImage(request) }
        Output.print("\(result.reference) \(result.digest) (\(result.blobs) blob\(result.blobs == 1 ? "" : "s"), \(result.bytes) bytes sent)\n")
    }
}
