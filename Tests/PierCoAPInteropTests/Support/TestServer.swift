import NIOCore
import NIOPosix
import PierCoAP
import Synchronization

@testable import pier_compute

/// Our CoAP endpoint on a real UDP socket on 127.0.0.1, with the resources the interop tests use
/// and pier-compute's three tasks.
final class TestServer: Sendable {
    /// A body 5000 bytes long, in lines, so a peer's output can be compared with it.
    static let bigBody: [UInt8] = Array((0..<500).map { "line \(String(1000 + $0).suffix(3)) \n" }.joined().utf8)

    let endpoint: CoAPEndpoint
    let address: SocketAddress
    let store = Mutex<[UInt8]>(Array("initial".utf8))
    let counter = Mutex(0)
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    var port: Int { address.port ?? 0 }

    /// Whether `/counter` values an observer saw (the registration's response first) are fresh:
    /// each above the one before, except that the first notification may repeat the response's
    /// value. The observer is registered when the request arrives and the value read later, so a
    /// tick in between reaches both; a notification repeating the current state is allowed
    /// (RFC 7641 §4.2).
    static func areFreshCounterValues(_ values: [Int]) -> Bool {
        let rest = values.count >= 2 && values[0] == values[1] ? Array(values.dropFirst()) : values
        return zip(rest, rest.dropFirst()).allSatisfy { $0 < $1 }
    }

    private init(endpoint: CoAPEndpoint, address: SocketAddress) {
        self.endpoint = endpoint
        self.address = address
    }

    /// Binds `port` (0: an ephemeral one); `/counter` changes every `tick` seconds once started.
    static func start(configuration: CoAPEndpoint.Configuration = CoAPEndpoint.Configuration(), tick: Double = 0.2, port: Int = 0) async throws
        -> TestServer
    {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: port).get()
        guard let address = channel.localAddress else { throw PeerError.noPort("test server") }
        let holder = Mutex<TestServer?>(nil)
        let resources = Self.resources { holder.withLock { $0 } }
        let endpoint = try await CoAPEndpoint.attach(to: channel, resources: resources, configuration: configuration)
        let server = TestServer(endpoint: endpoint, address: address)
        holder.withLock { $0 = server }
        let task = Task { [weak server] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(tick * 1000)))
                guard let server else { return }
                server.counter.withLock { $0 += 1 }
                server.endpoint.notifyChanged("/counter")
            }
        }
        server.ticker.withLock { $0 = task }
        return server
    }

    func close() async {
        ticker.withLock { $0?.cancel() }
        try? await endpoint.channel.close()
    }

    private static func resources(_ server: @escaping @Sendable () -> TestServer?) -> [CoAPResource] {
        let text = [CoAPOption(.contentFormat, uint: CoAPContentFormat.textPlain)]
        return [
            CoAPResource(path: "/hello", resourceTypes: ["greeting"], contentFormats: [0]) { _ in
                CoAPResponse(code: .content, options: text, payload: Array("hello from pier".utf8))
            },
            CoAPResource(path: "/whoami", resourceTypes: ["whoami"], contentFormats: [0]) { req in
                CoAPResponse(code: .content, options: text, payload: Array((req.client ?? "anonymous").utf8))
            },
            CoAPResource(path: "/big", resourceTypes: ["big"], contentFormats: [0]) { _ in
                CoAPResponse(code: .content, options: text, payload: bigBody)
            },
            CoAPResource(path: "/store", resourceTypes: ["store"], contentFormats: [0]) { req in
                guard let server = server() else { return CoAPResponse(code: .serviceUnavailable) }
                switch req.method {
                case .get: return CoAPResponse(code: .content, options: text, payload: server.store.withLock { $0 })
                case .put:
                    server.store.withLock { $0 = req.payload }
                    return CoAPResponse(code: .changed)
                case .post:
                    server.store.withLock { $0 += req.payload }
                    return CoAPResponse(code: .changed)
                case .delete:
                    server.store.withLock { $0 = [] }
                    return CoAPResponse(code: .deleted)
                default: return CoAPResponse(code: .methodNotAllowed)
                }
            },
            CoAPResource(path: "/counter", resourceTypes: ["counter"], contentFormats: [0], observable: true) { _ in
                let n = server()?.counter.withLock { $0 } ?? -1
                return CoAPResponse(code: .content, options: text, payload: Array("\(n)".utf8))
            },
        ] + ComputeService().resources
    }
}
