import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PierCluster
import PierPKI
import X509

/// Where this node's cluster identity lives: `<data root>/cluster/` holds the node key and
/// certificate, the cluster CA and the manager's address.
public struct ClusterMembership: Sendable {
    public let directory: URL
    public init(dataRoot: URL) { directory = dataRoot.appendingPathComponent("cluster") }

    var managerFile: URL { directory.appendingPathComponent("manager") }

    public var isJoined: Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent("node.pem").path) }

    public func identity() throws -> NodeIdentity { try NodeIdentity.load(from: directory.path) }

    /// The manager address this node joined (`tcp://HOST:PORT`).
    public func managerAddress() throws -> String {
        guard let text = try? String(contentsOf: managerFile, encoding: .utf8) else {
            throw ClusterJoinError.notJoined
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Joins the cluster of the manager at `address` with `token`: pins the manager's CA by
    /// the token's fingerprint, sends the secret with a fresh key's CSR, and saves the node
    /// certificate it gets back. Nothing is saved if any step fails.
    public func join(address: String, token text: String, hostname: String) async throws -> NodeIdentity {
        let manager = try ManagerAddress(parsing: address)
        let token: JoinToken
        do { token = try JoinToken.parse(text) } catch { throw ClusterJoinError.badToken("\(error)") }
        let ca = try await Self.pinnedCA(manager: manager, token: token)
        let request = try CertificateRequest.generate()
        let body = JoinRequest(token: token.text, csr: try request.pemString(), hostname: hostname)
        let response: JoinResponse = try await Self.post(
            "https://\(manager.urlHost):\(manager.port)/v1/join", body: body, tls: try ClientTLS.anonymous(trusting: ca))
        let certificate = try Certificate(pemEncoded: response.certificate)
        let identity = try request.identity(certificate: certificate, caCertificate: ca)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try identity.save(to: directory.path)
        try Data("tcp://\(manager.urlHost):\(manager.port)\n".utf8).write(to: managerFile, options: .atomic)
        return identity
    }

    /// Replaces the node certificate with a new one for a new key, over mutual TLS with the current one.
    public func renew(_ identity: NodeIdentity) async throws -> NodeIdentity {
        let manager = try ManagerAddress(parsing: try managerAddress())
        let request = try CertificateRequest.generate()
        let response: JoinResponse = try await Self.post(
            "https://\(manager.urlHost):\(manager.port)/v1/certificate/renew", body: RenewRequest(csr: try request.pemString()),
            tls: try ClientTLS(identity: identity).configuration)
        let renewed = try request.identity(certificate: try Certificate(pemEncoded: response.certificate), caCertificate: identity.caCertificate)
        try renewed.save(to: directory.path)
        return renewed
    }

    /// Connects with the token's pinned-CA check and returns the CA the manager presented.
    static func pinnedCA(manager: ManagerAddress, token: JoinToken) async throws -> Certificate {
        let join = try JoinTLS(token: token)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(host: manager.host, port: manager.port).get()
        } catch {
            throw ClusterJoinError.unreachable("\(manager.host):\(manager.port): \(error)")
        }
        defer { channel.close(promise: nil) }
        let done = channel.eventLoop.makePromise(of: Void.self)
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try join.makeClientHandler())
            try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(done: done))
        }.get()
        do { try await done.futureResult.get() } catch {
            throw ClusterJoinError.untrustedManager(
                "the manager at \(manager.host):\(manager.port) did not present the CA of the token (fingerprint \(token.caFingerprint)): \(error)")
        }
        return try await join.pinnedCA(of: channel)
    }

    static func post<Body: Encodable, Answer: Decodable>(_ url: String, body: Body, tls: TLSConfiguration) async throws -> Answer {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
            let response = try await client.execute(request, timeout: .seconds(30))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            let data = Data(bytes.readableBytesView)
            guard response.status.code / 100 == 2 else {
                let message = (try? JSONDecoder().decode(ManagerErrorBody.self, from: data))?.message ?? "HTTP \(response.status.code)"
                throw ClusterJoinError.refused(message)
            }
            let answer = try JSONDecoder().decode(Answer.self, from: data)
            try? await client.shutdown()
            return answer
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

struct ManagerErrorBody: Decodable { var message: String }

public enum ClusterJoinError: Error, CustomStringConvertible, Sendable {
    case badToken(String)
    case unreachable(String)
    case untrustedManager(String)
    case refused(String)
    case notJoined

    public var description: String {
        switch self {
        case .badToken(let m): "join token: \(m)"
        case .unreachable(let m): "cannot reach the manager at \(m)"
        case .untrustedManager(let m): m
        case .refused(let m): "the manager refused: \(m)"
        case .notJoined: "this node has not joined a cluster; run `pier agent --join tcp://MANAGER:PORT --token TOKEN`"
        }
    }
}

/// `tcp://HOST:PORT` (or `HOST:PORT`) of a manager.
struct ManagerAddress: Sendable {
    let host: String
    let port: Int
    var urlHost: String { host.contains(":") ? "[\(host)]" : host }

    init(parsing text: String) throws {
        var rest = Substring(text)
        if rest.hasPrefix("tcp://") { rest = rest.dropFirst(6) } else if rest.contains("://") {
            throw ClusterJoinError.unreachable("\(text): expected tcp://HOST:PORT")
        }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            throw ClusterJoinError.unreachable("\(text): expected tcp://HOST:PORT")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ClusterJoinError.unreachable("\(text): the host is missing") }
        self.host = host
        self.port = port
    }
}

/// Completes when the TLS handshake does, or fails with its error.
final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let done: EventLoopPromise<Void>
    init(done: EventLoopPromise<Void>) { self.done = done }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? TLSUserEvent, case .handshakeCompleted = e { done.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }
    func channelInactive(context: ChannelHandlerContext) {
        done.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}
