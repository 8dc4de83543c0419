import Foundation
import NIOSSL
import PierAPI
import PierImage
import PierOCI
import PierPKI
import PierRegistry
import X509

/// `pier image pull` and `pier image push`: the node's store against a registry named in the
/// image reference (`HOST[:PORT]/REPOSITORY:TAG`). TLS: a certificate directory when given; a
/// joined node's own certificate for its manager; the system's trust store otherwise; plain
/// HTTP only when asked (`--insecure`).
struct RegistryTransfers: Sendable {
    let content: LocalContentStore
    let images: ImageStore
    /// Where pulled layers are unpacked as they arrive.
    let layers: LayerStore
    let dataRoot: URL
    /// Layers downloaded at the same time.
    let maxConcurrentDownloads: Int

    /// Registry host and the rest of a remote reference.
    static func split(_ remote: String) throws -> (host: String, path: String) {
        guard let slash = remote.firstIndex(of: "/") else {
            throw AgentError.invalid("\(remote): name the registry, e.g. manager.local:7443/edge/app:1 (Docker Hub is not reachable from here)")
        }
        let host = String(remote[..<slash])
        guard host.contains(".") || host.contains(":") || host == "localhost" else {
            throw AgentError.invalid("\(remote): \"\(host)\" is not a registry host; name one, e.g. manager.local:7443/\(remote)")
        }
        return (host, String(remote[remote.index(after: slash)...]))
    }

    func client(host: String, request: RegistryTransferRequest, progress: PullProgress? = nil) throws -> RegistryClient {
        var configuration = baseConfiguration()
        if let progress { configuration.progress = { progress.update($0) } }
        // A cluster's registry is its manager: the server must hold a manager's certificate,
        // checked as its server name whatever address the reference names.
        var cluster: ClientTLS?
        if let dir = request.certDirectory {
            let hasIdentity = FileManager.default.fileExists(atPath: URL(fileURLWithPath: dir).appendingPathComponent("node.pem").path)
            do {
                if hasIdentity {
                    cluster = try ClientTLS(identity: try NodeIdentity.load(from: dir), server: .manager)
                } else {
                    let pem = try String(contentsOf: URL(fileURLWithPath: dir).appendingPathComponent("ca.pem"), encoding: .utf8)
                    cluster = try ClientTLS(anonymousTrusting: try Certificate.all(pem: pem, what: "\(dir)/ca.pem"), server: .manager)
                }
            } catch {
                throw AgentError.invalid("--cert-dir \(dir): cannot load ca.pem\(hasIdentity ? ", node.pem and node-key.pem" : ""): \(error)")
            }
        }
        if let text = request.credentials {
            guard let credentials = RegistryCredentials(parsing: text) else {
                throw AgentError.invalid("--creds: expected USER:PASSWORD")
            }
            configuration.credentials = credentials
        } else if request.certDirectory == nil, !request.insecure, case let membership = ClusterMembership(dataRoot: dataRoot),
                  let manager = try? membership.managerAddress(), manager.hasSuffix("/" + host),
                  let identity = try? membership.identity() {
            cluster = try ClientTLS(identity: identity, server: .manager)
        }
        if request.noDelta { configuration.zstdPath = nil }
        let scheme = request.insecure ? "http" : "https"
        var urlHost = host
        if let cluster, !request.insecure {
            let address = try ManagerAddress(parsing: host.contains(":") && !host.hasSuffix("]") ? host : host + ":443")
            configuration.tlsConfiguration = cluster.configuration
            configuration.dnsOverride = [cluster.serverName: address.host]
            urlHost = "\(cluster.serverName):\(address.port)"
        }
        guard let url = URL(string: "\(scheme)://\(urlHost)") else { throw AgentError.invalid("\(host) is not a registry address") }
        return try RegistryClient(baseURL: url, content: content, images: images, configuration: configuration)
    }

    /// What every pull of this node uses: the download limit, and each pulled layer unpacked
    /// while the others download (a layer that fails to unpack is left as it is: the container
    /// that needs it unpacks it again and reports the error).
    func baseConfiguration() -> RegistryClient.Configuration {
        var configuration = RegistryClient.Configuration(maxConcurrentDownloads: maxConcurrentDownloads)
        configuration.layerStored = { [layers] layer, diffID in _ = try? await layers.ensureUnpacked(layer: layer, diffID: diffID) }
        return configuration
    }

    func pull(_ request: RegistryTransferRequest, progress: PullProgress? = nil) async throws -> RegistryTransferResult {
        let (host, path) = try Self.split(request.remote)
        var name = request.remote
        if !name.contains("@"), !(name.split(separator: "/").last ?? "").contains(":") { name += ":latest" }
        let local: ImageReference?
        do { local = name.contains("@") ? nil : try ImageReference(parsing: name) } catch {
            throw AgentError.invalid("\(request.remote) is not a valid image reference: \(error)")
        }
        let client = try client(host: host, request: request, progress: progress)
        defer { Task { try? await client.shutdown() } }
        do {
            let result = try await client.pull(path, tagAs: local)
            return RegistryTransferResult(
                reference: local?.display ?? request.remote, digest: (result.index ?? result.manifest).description,
                blobs: result.fetchedBlobs.count, bytes: result.fetchedBytes, deltas: result.deltaBlobs.count)
        } catch let error as RegistryClientError {
            throw AgentError.failed("pull \(request.remote): \(error)")
        }
    }

    func push(_ request: RegistryTransferRequest) async throws -> RegistryTransferResult {
        let (host, path) = try Self.split(request.remote)
        var repository = path, tag = ImageReference.defaultTag
        if let colon = path.lastIndex(of: ":"), !path[colon...].contains("/") {
            repository = String(path[..<colon]); tag = String(path[path.index(after: colon)...])
        }
        let localText = request.local ?? request.remote
        let local: ImageReference
        do { local = try ImageReference(parsing: localText) } catch {
            throw AgentError.invalid("\(localText) is not a valid image reference: \(error)")
        }
        guard await images.record(for: local) != nil else { throw AgentError.noSuchImage(localText) }
        let client = try client(host: host, request: request)
        defer { Task { try? await client.shutdown() } }
        do {
            let result = try await client.push(local, repository: repository, tag: tag)
            return RegistryTransferResult(
                reference: "\(host)/\(repository):\(tag)", digest: result.digest.description,
                blobs: result.uploadedBlobs.count, bytes: result.uploadedBytes)
        } catch let error as RegistryClientError {
            throw AgentError.failed("push \(localText) to \(request.remote): \(error)")
        }
    }
}
