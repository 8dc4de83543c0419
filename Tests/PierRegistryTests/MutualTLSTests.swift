import PierTestSupport
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import PierOCI
import Testing
@testable import PierRegistry

/// The client pulls over mutual TLS with the configuration it is given (certificates made with
/// the `openssl` CLI, Debian package `openssl`).
@Suite("Pulling over mutual TLS", .requires(Requirement.executable("/usr/bin/openssl"), "openssl"), .timeLimit(.minutes(5)))
struct MutualTLSTests {
    @Test("a client with the cluster CA and a node certificate pulls; one without a certificate is refused")
    func mutualTLS() async throws {
        let pki = try await TestPKI.make()
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [2000, 40_000], in: server)

        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(pki.path("server.pem")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: pki.path("server.key"), format: .pem)))
        serverTLS.trustRoots = .file(pki.path("ca.pem"))
        serverTLS.certificateVerification = .noHostnameVerification
        let sslContext = try NIOSSLContext(configuration: serverTLS)

        var nodeTLS = TLSConfiguration.makeClientConfiguration()
        nodeTLS.trustRoots = .file(pki.path("ca.pem"))
        nodeTLS.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.path("node.pem")).map { .certificate($0) }
        nodeTLS.privateKey = .privateKey(try NIOSSLPrivateKey(file: pki.path("node.key"), format: .pem))
        var anonymousTLS = TLSConfiguration.makeClientConfiguration()
        anonymousTLS.trustRoots = .file(pki.path("ca.pem"))

        let (node, anonymous) = (nodeTLS, anonymousTLS)
        let target = try Stores()
        try await withRegistry(server, tls: sslContext) { base in
            #expect(base.scheme == "https")
            let result = try await withClient(base, into: target, configuration: .init(tlsConfiguration: node)) {
                try await $0.pull("edge/sensor:1")
            }
            #expect(result.manifest == image.manifest)
            for digest in image.blobs { try await target.content.verify(digest) }

            let refused = try Stores()
            let error = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: refused, configuration: .init(tlsConfiguration: anonymous, maxAttempts: 1)) {
                    try await $0.pull("edge/sensor:1")
                }
            }
            guard case .transfer? = error else {
                Issue.record("expected a transfer error, got \(String(describing: error))")
                return
            }
            #expect(await refused.images.list().isEmpty)
        }
    }

    @Test("the authorization hook sees the client certificate: anonymous pulls get 401 UNAUTHORIZED")
    func authorizationByCertificate() async throws {
        let pki = try await TestPKI.make()
        let server = try Stores()
        let image = try await storeImage("edge/sensor:1", layerSizes: [1000], in: server)
        var serverTLS = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(pki.path("server.pem")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: pki.path("server.key"), format: .pem)))
        serverTLS.trustRoots = .file(pki.path("ca.pem"))
        serverTLS.certificateVerification = .optionalVerification
        let sslContext = try NIOSSLContext(configuration: serverTLS)

        let configuration = RegistryRoutes<ConnectionRequestContext>.Configuration(authorize: { _, context, action in
            if action == .ping { return .allow }
            let certificate = try? await context.channel.nioSSL_peerCertificate().get()
            return certificate == nil ? .unauthorized("connect with the node certificate the manager issued") : .allow
        })
        var nodeTLS = TLSConfiguration.makeClientConfiguration()
        nodeTLS.trustRoots = .file(pki.path("ca.pem"))
        nodeTLS.certificateChain = try NIOSSLCertificate.fromPEMFile(pki.path("node.pem")).map { .certificate($0) }
        nodeTLS.privateKey = .privateKey(try NIOSSLPrivateKey(file: pki.path("node.key"), format: .pem))
        var anonymousTLS = TLSConfiguration.makeClientConfiguration()
        anonymousTLS.trustRoots = .file(pki.path("ca.pem"))
        let (node, anonymous) = (nodeTLS, anonymousTLS)

        let router = Router(context: ConnectionRequestContext.self)
        try await withRegistry(server, router: router, configuration: configuration, tls: sslContext) { base in
            let refused = try Stores()
            let error = await #expect(throws: RegistryClientError.self) {
                try await withClient(base, into: refused, configuration: .init(tlsConfiguration: anonymous)) {
                    try await $0.pull("edge/sensor:1")
                }
            }
            if case .registry(let status, _, let body)? = error {
                #expect(status == 401)
                #expect(body?.errors.first?.code == "UNAUTHORIZED")
            } else {
                Issue.record("expected 401, got \(String(describing: error))")
            }
            #expect(await refused.images.list().isEmpty)

            let target = try Stores()
            let result = try await withClient(base, into: target, configuration: .init(tlsConfiguration: node)) {
                try await $0.pull("edge/sensor:1")
            }
            #expect(result.manifest == image.manifest)
        }
    }
}

/// A request context that keeps the connection, so the authorization hook can read the
/// client's certificate from it (as the manager does).
struct ConnectionRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in a temporary directory.
struct TestPKI: Sendable {
    let dir: TempDir

    func path(_ name: String) -> String { dir.url.appendingPathComponent(name).path }

    static func make() async throws -> TestPKI {
        let dir = try TempDir()
        let script = """
            set -e
            cd '\(dir.url.path)'
            ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
            openssl req -x509 $ec -keyout ca.key -out ca.pem -days 1 -subj /CN=pier-test-ca \
                -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
            printf 'extendedKeyUsage=clientAuth\\n' > node.ext
            for who in server node; do
                openssl req $ec -keyout $who.key -out $who.csr -subj /CN=$who 2>/dev/null
                openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 1 \
                    -extfile $who.ext 2>/dev/null
            done
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do { try process.run() } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        guard status == 0 else { throw TestFailure("openssl could not make the test certificates (exit \(status))") }
        return TestPKI(dir: dir)
    }
}

/// HTTP/1 behind a NIOSSL server handler, as HummingbirdTLS sets it up.
struct TestTLSChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let context: NIOSSLContext

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
