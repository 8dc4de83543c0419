import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PierRegistry
import Testing
@testable import PierAgent

/// The agent's real unix-socket server (`Agent.unixApplications`) against oversized requests:
/// headers over the limits answer 431, a body over the limit 413, and the server keeps answering.
@Suite struct HTTPLimitsTests {
    /// Serves the agent's local API on a unix socket in `root` for the duration of `body`.
    static func withSocketServer(_ node: AgentNode, root: URL, _ body: (_ base: String) async throws -> Void) async throws {
        let socket = root.appendingPathComponent("s.sock").path
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        var logger = Logger(label: "http-limits-test")
        logger.logLevel = .critical
        let apps = try Agent.unixApplications(["unix://\(socket)"], router: Agent.localRouter(node: node), serverName: "pier-agent", logger: logger)
        let app = try #require(apps.first)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            group.addTask {
                // The socket exists once the server listens (bounded: a server that never
                // listens fails the test below instead of hanging it).
                for _ in 0..<1000 where !FileManager.default.fileExists(atPath: socket) { try await Task.sleep(for: .milliseconds(10)) }
                readyContinuation.yield()
            }
            var iterator = ready.makeAsyncIterator()
            _ = await iterator.next()
            guard FileManager.default.fileExists(atPath: socket) else {
                group.cancelAll()
                Issue.record("the agent's socket server did not start")
                return
            }
            let encoded = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket
            do {
                try await body("http+unix://\(encoded)")
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    static func send(_ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], body: Data? = nil) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: data))
    }

    @Test func oversizedHeadersAnswer431AndOversizedBodies413AndTheServerKeepsAnswering() async throws {
        try await withAgentNode { node, root in
            try await Self.withSocketServer(node, root: root) { base in
                #expect(try await Self.send("\(base)/v1/info").status == 200)
                let limits = HTTPServerLimits()
                // One header line over the field limit.
                let long = try await Self.send("\(base)/v1/info", headers: [("X-Long", String(repeating: "a", count: limits.maxHeaderFieldSize + 1))])
                #expect(long.status == 431, "\(long)")
                // Lines each under the field limit, together over the list limit.
                let many = (0..<8).map { ("X-Part-\($0)", String(repeating: "b", count: limits.maxHeaderFieldSize - 100)) }
                let list = try await Self.send("\(base)/v1/info", headers: many)
                #expect(list.status == 431, "\(list)")
                // More header lines than allowed.
                let count = try await Self.send("\(base)/v1/info", headers: (0...limits.maxHeaderFieldCount).map { ("X-N-\($0)", "1") })
                #expect(count.status == 431, "\(count)")
                // A JSON body over the agent's request limit.
                let big = Data(repeating: UInt8(ascii: " "), count: node.configuration.maxRequestBody + 1)
                let body = try await Self.send("\(base)/v1/containers", method: .POST, headers: [("Content-Type", "application/json")], body: big)
                #expect(body.status == 413 && body.body.contains("\(node.configuration.maxRequestBody) bytes"), "\(body)")
                // Still serving.
                #expect(try await Self.send("\(base)/v1/info").status == 200)
            }
        }
    }

    @Test func theLimitsReachHummingbirdsChannel() {
        let limits = HTTPServerLimits(maxHeaderFieldSize: 1000, maxHeaderListSize: 2000, maxHeaderFieldCount: 7, idleTimeout: .seconds(9))
        let channel = limits.http1
        #expect(channel.httpDecoder.maxHeaderFieldSize == 1000 && channel.httpDecoder.maxHeaderListSize == 2000)
        #expect(channel.httpDecoder.maxHeaderFieldCount == 7 && channel.idleTimeout == .seconds(9))
    }
}
