import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import PierAccess
import PierCluster
import PierPKI
import X509

/// Where this node's cluster identity lives: `<data root>/cluster/` holds the node key and
/// certificate, the cluster CA and the manager's address.
public struct ClusterMembership: Sendable {
    public let directory: URL
    public init(dataRoot: URL) { directory = dataRoot.appendingPathComponent("cluster") }

    var managerFile: URL { directory.appendingPathComponent("manager") }
    var revocationsFile: URL { directory.appendingPathComponent("revoked.json") }

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
    /// the token's fingerprint (and requires it to hold a manager's certificate of that CA) before
    /// sending anything, then sends the secret with a fresh key's CSR, and saves the node
    /// certificate it gets back. Nothing is saved if any step fails.
    public func join(address: String, token text: String, hostname: String) async throws -> NodeIdentity {
        let manager = try ManagerAddress(parsing: address)
        let token: JoinToken
        do { token = try JoinToken.parse(text) } catch { throw ClusterJoinError.badToken("\(error)") }
        let ca = try await Self.pinnedCA(manager: manager, token: token)
        let request = try CertificateRequest.generate()
        let body = JoinRequest(token: token.text, csr: try request.pemString(), hostname: hostname)
        let response: JoinResponse = try await Self.post(
            manager, "/v1/join", body: body, tls: try ClientTLS(anonymousTrusting: [ca], server: .manager))
        let identity = try Self.identity(request, response, fallbackRoots: [ca])
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try identity.save(to: directory.path)
        try Data("tcp://\(manager.urlHost):\(manager.port)\n".utf8).write(to: managerFile, options: .atomic)
        return identity
    }

    /// Replaces the node certificate with a new one for a new key, over mutual TLS with the
    /// current one; the answer also names the roots to trust (both during a CA rotation).
    public func renew(_ identity: NodeIdentity) async throws -> NodeIdentity {
        let manager = try ManagerAddress(parsing: try managerAddress())
        let request = try CertificateRequest.generate()
        let response: JoinResponse = try await Self.post(
            manager, "/v1/certificate/renew", body: RenewRequest(csr: try request.pemString()), tls: try ClientTLS(identity: identity, server: .manager))
        let renewed = try Self.identity(request, response, fallbackRoots: identity.roots)
        try renewed.save(to: directory.path)
        return renewed
    }

    /// The identity of a join or renewal answer: the certificate and its intermediates, and the
    /// roots it names.
    static func identity(_ request: CertificateRequest, _ response: JoinResponse, fallbackRoots: [Certificate]) throws -> NodeIdentity {
        try request.identity(certificatePEM: response.certificate, rootsPEM: response.caCertificate, fallbackRoots: fallbackRoots)
    }

    /// The revocation list the manager last sent. A file that exists but does not decode is an
    /// error, never an empty list.
    public func revocations() throws -> RevocationList {
        guard let data = try? Data(contentsOf: revocationsFile) else { return RevocationList() }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(RevocationList.self, from: data)
        } catch {
            throw ClusterJoinError.refused("\(revocationsFile.path) is unreadable (\(error)); the direct port refuses every client until the manager sends the list again")
        }
    }

    func saveRevocations(_ list: RevocationList) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try SecretFile.write(try encoder.encode(list), to: revocationsFile)
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

    /// POSTs JSON to the manager over `tls`, which requires the server to hold a manager's
    /// certificate: the URL names the manager's server name and a DNS override dials its address.
    static func post<Body: Encodable, Answer: Decodable>(_ manager: ManagerAddress, _ path: String, body: Body, tls: ClientTLS) async throws -> Answer {
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls.configuration, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = [tls.serverName: manager.host]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            var request = HTTPClientRequest(url: "https://\(tls.serverName):\(manager.port)\(path)")
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
        case .notJoined: "this node has not joined a cluster; run `pier agent --join tcp://MANAGER:PORT --token-file FILE` with a token from `pier join-token worker`"
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
