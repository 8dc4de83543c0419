import NIOCore
import NIOPosix
import PierCoAP

/// Our CoAP endpoint as a client, on a real UDP socket on 127.0.0.1.
enum TestClient {
    static func start(configuration: CoAPEndpoint.Configuration = CoAPEndpoint.Configuration()) async throws -> CoAPEndpoint {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        return try await CoAPEndpoint.attach(to: channel, configuration: configuration)
    }

    /// A client that uploads in 16-byte Block1 blocks.
    static func smallBlocks() -> CoAPEndpoint.Configuration {
        var c = CoAPEndpoint.Configuration()
        c.preferredBlockSZX = 0
        return c
    }

    /// Collects `count` notifications of an observation, or fails after `timeout` seconds.
    static func observe(_ client: CoAPEndpoint, _ path: String, on peer: SocketAddress, count: Int, timeout: Double = 15) async throws
        -> [CoAPMessage]
    {
        try await withThrowingTaskGroup(of: [CoAPMessage].self) { group in
            group.addTask {
                var seen: [CoAPMessage] = []
                for try await n in client.observe(path, on: peer) {
                    seen.append(n)
                    if seen.count == count { break }
                }
                return seen
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                throw PeerError.timedOut("observe \(path)", output: "")
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            return first
        }
    }
}

extension CoAPMessage {
    var text: String { String(decoding: payload, as: UTF8.self) }
}

extension CoAPLink {
    var observable: Bool { has("obs") }
    var resourceTypes: [String] { values("rt") }
}
