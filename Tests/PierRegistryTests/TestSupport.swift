import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import HummingbirdCore
import PierOCI
@testable import PierRegistry

/// A temporary directory removed when the value goes away.
final class TempDir: @unchecked Sendable {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("pier-registry-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A content store and an image store in a temporary directory.
struct Stores: Sendable {
    let dir: TempDir
    let content: LocalContentStore
    let images: ImageStore

    init() throws {
        dir = try TempDir()
        content = try LocalContentStore(root: dir.url.appendingPathComponent("content"))
        images = try ImageStore(root: dir.url.appendingPathComponent("images"))
    }

    /// The same stores opened again, as a restarted process opens them.
    init(reopening other: Stores) throws {
        dir = other.dir
        content = try LocalContentStore(root: dir.url.appendingPathComponent("content"))
        images = try ImageStore(root: dir.url.appendingPathComponent("images"))
    }
}

/// An image written into a store by `storeImage`.
struct TestImage: Sendable {
    var reference: ImageReference
    var manifest: Digest
    var manifestSize: Int
    var index: Digest?
    var config: Descriptor
    var layers: [Descriptor]
    var layerData: [Data]
    var blobs: [Digest] { [config.digest] + layers.map(\.digest) }
}

func randomData(_ count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
}

/// Stores an image with uncompressed layers of the given sizes under `name` (`repo:tag`), for
/// the host platform, behind an index that also lists an arm64 manifest when `withIndex`.
@discardableResult
func storeImage(_ name: String, layerSizes: [Int] = [3000, 70_000], withIndex: Bool = true, in stores: Stores) async throws -> TestImage {
    try await storeImage(name, layers: layerSizes.map(randomData), withIndex: withIndex, in: stores)
}

/// `storeImage` with the layers' bytes given.
@discardableResult
func storeImage(_ name: String, layers layerData: [Data], withIndex: Bool = true, in stores: Stores) async throws -> TestImage {
    let reference = try ImageReference(parsing: name)
    var layers: [Descriptor] = []
    for data in layerData {
        let stored = try await stores.content.ingest(data: data, expecting: nil, size: nil)
        layers.append(Descriptor(mediaType: MediaType.ociLayerTar, digest: stored.digest, size: stored.size))
    }
    let host = Platform.host
    let config = ImageConfig(architecture: host.architecture, os: host.os, variant: host.variant,
                             config: ContainerConfig(cmd: ["/bin/sensor", name]),
                             rootfs: RootFS(type: "layers", diffIDs: layers.map(\.digest)))
    let configData = try config.encoded()
    let configStored = try await stores.content.ingest(data: configData, expecting: nil, size: nil)
    let configDescriptor = Descriptor(mediaType: MediaType.ociConfig, digest: configStored.digest, size: configStored.size)
    let manifestData = try ImageManifest(config: configDescriptor, layers: layers).encoded()
    let manifest = try await stores.content.ingest(data: manifestData, expecting: nil, size: nil)
    var indexDigest: Digest?
    if withIndex {
        let other = Platform(os: "linux", architecture: host.architecture == "arm64" ? "amd64" : "arm64")
        let index = ImageIndex(manifests: [
            Descriptor(mediaType: MediaType.ociManifest, digest: Digest.sha256(of: Data("absent".utf8)), size: 6, platform: other),
            Descriptor(mediaType: MediaType.ociManifest, digest: manifest.digest, size: manifest.size, platform: host),
        ])
        indexDigest = try await stores.content.ingest(data: try index.encoded(), expecting: nil, size: nil).digest
    }
    try await stores.images.tag(reference, manifest: manifest.digest, index: indexDigest)
    return TestImage(reference: reference, manifest: manifest.digest, manifestSize: manifestData.count, index: indexDigest,
                     config: configDescriptor, layers: layers, layerData: layerData)
}

/// Runs a Hummingbird server with the registry routes on 127.0.0.1 and an ephemeral port for
/// the duration of `body`, which gets the base URL.
@discardableResult
func withRegistry<T: Sendable>(
    _ stores: Stores,
    configuration: RegistryRoutes<BasicRequestContext>.Configuration = .init(),
    middleware: (any MiddlewareProtocol<Request, Response, BasicRequestContext>)? = nil,
    tls: NIOSSLContext? = nil,
    _ body: @Sendable (URL) async throws -> T
) async throws -> T {
    let router = Router()
    if let middleware { router.add(middleware: middleware) }
    return try await withRegistry(stores, router: router, configuration: configuration, tls: tls, body)
}

/// `withRegistry` for a router with its own request context.
@discardableResult
func withRegistry<Context: RequestContext, T: Sendable>(
    _ stores: Stores,
    router: Router<Context>,
    configuration: RegistryRoutes<Context>.Configuration,
    tls: NIOSSLContext?,
    _ body: @Sendable (URL) async throws -> T
) async throws -> T where Context.Source == ApplicationRequestContextSource {
    RegistryRoutes(content: stores.content, images: stores.images, configuration: configuration).addRoutes(to: router)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router,
        server: tls.map { context in
            HTTPServerBuilder { TestTLSChannel(base: HTTP1Channel(responder: $0), context: context) }
        } ?? .http1(),
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        },
        logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let scheme = tls == nil ? "http" : "https"
        guard let port = await iterator.next(), port > 0, let url = URL(string: "\(scheme)://127.0.0.1:\(port)") else {
            group.cancelAll()
            throw TestFailure("the registry server did not start")
        }
        do {
            let result = try await body(url)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Cancelling the server at the end of a test logs errors that say nothing about the test.
let quietLogger: Logger = {
    var logger = Logger(label: "registry-test")
    logger.logLevel = .critical
    return logger
}()

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A plain HTTP exchange, for checking the registry's responses directly.
struct RawResponse: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    func header(_ name: String) -> String? { headers[name.lowercased()] }

    var errorCodes: [String] {
        ((try? JSONDecoder().decode(RegistryErrorBody.self, from: body))?.errors ?? []).map(\.code)
    }
}

func raw(_ method: HTTPMethod = .GET, _ url: String, headers: [String: String] = [:], body: Data? = nil) async throws -> RawResponse {
    var request = HTTPClientRequest(url: url)
    request.method = method
    if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 16 << 20)
    var fields: [String: String] = [:]
    for header in response.headers { fields[header.name.lowercased()] = header.value }
    return RawResponse(status: Int(response.status.code), headers: fields, body: Data(body.readableBytesView))
}

/// Runs `body` with a client pulling from `base` into `stores`, shutting the client down after.
func withClient<T: Sendable>(
    _ base: URL, into stores: Stores, configuration: RegistryClient.Configuration = .init(),
    _ body: (RegistryClient) async throws -> T
) async throws -> T {
    let client = try RegistryClient(baseURL: base, content: stores.content, images: stores.images, configuration: configuration)
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}
