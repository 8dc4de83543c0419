import NIOCore
import NIOPosix
import Synchronization

/// A UDP proxy on 127.0.0.1 between one client and one server that drops the datagrams `drop`
/// picks (counted 0, 1, 2, … over both directions), to make retransmission happen for real. It
/// keeps what the client sent, so a test can replay it.
final class LossyProxy: Sendable {
    private struct State {
        var front: (any Channel)?
        var back: (any Channel)?
        var client: SocketAddress?
        var count = 0
        var dropped = 0
        var forwarded = 0
        var sent: [[UInt8]] = []
    }

    private let state = Mutex(State())
    private let server: SocketAddress
    private let drop: @Sendable (Int) -> Bool

    /// The address clients send to.
    let address: SocketAddress

    private init(server: SocketAddress, address: SocketAddress, drop: @escaping @Sendable (Int) -> Bool) {
        self.server = server
        self.address = address
        self.drop = drop
    }

    /// Datagrams dropped and forwarded so far.
    var dropped: Int { state.withLock { $0.dropped } }
    var forwarded: Int { state.withLock { $0.forwarded } }
    /// Every datagram the client sent, in order.
    var clientDatagrams: [[UInt8]] { state.withLock { $0.sent } }

    static func start(to server: SocketAddress, drop: @escaping @Sendable (Int) -> Bool) async throws -> LossyProxy {
        let box = Mutex<LossyProxy?>(nil)
        let group = MultiThreadedEventLoopGroup.singleton
        let front = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(Forwarder { e in box.withLock { $0 }?.fromClient(e) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let back = try await DatagramBootstrap(group: group)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(Forwarder { e in box.withLock { $0 }?.fromServer(e) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let address = front.localAddress else { throw PeerError.noPort("lossy proxy") }
        let proxy = LossyProxy(server: server, address: address, drop: drop)
        proxy.state.withLock {
            $0.front = front
            $0.back = back
        }
        box.withLock { $0 = proxy }
        return proxy
    }

    func close() async {
        let (front, back) = state.withLock { ($0.front, $0.back) }
        try? await front?.close()
        try? await back?.close()
    }

    private func pass() -> Bool {
        state.withLock { s in
            defer { s.count += 1 }
            if drop(s.count) {
                s.dropped += 1
                return false
            }
            s.forwarded += 1
            return true
        }
    }

    private func fromClient(_ e: AddressedEnvelope<ByteBuffer>) {
        let back = state.withLock { s -> (any Channel)? in
            s.client = e.remoteAddress
            s.sent.append(Array(e.data.readableBytesView))
            return s.back
        }
        guard pass(), let back else { return }
        back.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: e.data), promise: nil)
    }

    private func fromServer(_ e: AddressedEnvelope<ByteBuffer>) {
        let (front, client) = state.withLock { ($0.front, $0.client) }
        guard pass(), let front, let client else { return }
        front.writeAndFlush(AddressedEnvelope(remoteAddress: client, data: e.data), promise: nil)
    }
}

private final class Forwarder: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let onRead: @Sendable (AddressedEnvelope<ByteBuffer>) -> Void

    init(_ onRead: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) { self.onRead = onRead }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { onRead(unwrapInboundIn(data)) }
}
