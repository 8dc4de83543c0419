import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PierAccess
@testable import PierPKI

/// Echoes every byte back.
final class EchoHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

struct ConnectionClosed: Error {}

/// Completes a promise with the first reply, or fails it when the connection errors or closes.
final class FirstReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let reply: EventLoopPromise<String>

    init(reply: EventLoopPromise<String>) { self.reply = reply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reply.succeed(String(buffer: unwrapInboundIn(data)))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        reply.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(ConnectionClosed())
        context.fireChannelInactive()
    }
}

/// A TLS echo server on 127.0.0.1 that hands out its accepted connections.
final class EchoServer: Sendable {
    let channel: any Channel
    let accepted: AsyncStream<any Channel>
    var port: Int { channel.localAddress?.port ?? 0 }

    /// - Parameter makeHandler: builds the server's TLS handler for each connection.
    init(group: EventLoopGroup, makeHandler: @escaping @Sendable () throws -> NIOSSLServerHandler) async throws {
        let (stream, continuation) = AsyncStream<any Channel>.makeStream()
        accepted = stream
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                continuation.yield(child)
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(try makeHandler())
                    try child.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async {
        try? await channel.close()
    }

    /// The server side of the next accepted connection.
    func nextConnection() async -> (any Channel)? {
        var iterator = accepted.makeAsyncIterator()
        return await iterator.next()
    }
}

enum Exchange {
    /// Connects with `makeHandler`, sends "ping" and returns the echo, or throws when the
    /// handshake or the exchange fails. Also returns the client channel.
    static func ping(
        group: EventLoopGroup, port: Int,
        makeHandler: @escaping @Sendable () throws -> NIOSSLClientHandler
    ) async throws -> (reply: String, channel: any Channel) {
        let channel = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port).get()
        let reply = channel.eventLoop.makePromise(of: String.self)
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try makeHandler())
            try channel.pipeline.syncOperations.addHandler(FirstReplyHandler(reply: reply))
        }.get()
        channel.writeAndFlush(ByteBuffer(string: "ping"), promise: nil)
        do {
            let text = try await reply.futureResult.get()
            return (text, channel)
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// A cluster for TLS tests: a CA, a manager identity, and a way to make nodes.
struct TestCluster {
    let ca: ClusterCA
    let manager: NodeIdentity

    init() throws {
        ca = try ClusterCA.create(clusterID: "test-cluster")
        manager = try ca.issueIdentity(nodeID: "manager-1", role: .manager, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])
    }

    func node(_ id: String, role: Role = .worker, validity: TimeInterval = ClusterCA.defaultNodeValidity, now: Date = Date()) throws -> NodeIdentity {
        try ca.issueIdentity(nodeID: id, role: role, validity: validity, now: now)
    }

    var token: JoinToken {
        get throws { try JoinToken.generate(caFingerprint: ca.fingerprint) }
    }
}
