import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import PierCoAP

/// Two endpoints on testing channels, with datagrams carried between them by a pump that can drop some.
final class Link: Sendable {
    let clientChannel = NIOAsyncTestingChannel()
    let serverChannel = NIOAsyncTestingChannel()
    let clientAddress: SocketAddress
    let serverAddress: SocketAddress

    init() throws {
        clientAddress = try SocketAddress(ipAddress: "10.0.0.1", port: 40000)
        serverAddress = try SocketAddress(ipAddress: "10.0.0.2", port: 5683)
    }

    /// Moves every datagram written by `from` into `to`, as if sent by `source`.
    static func pump(from: NIOAsyncTestingChannel, to: NIOAsyncTestingChannel, source: SocketAddress) async {
        while !Task.isCancelled {
            guard let out = try? await from.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self) else { return }
            _ = try? await to.writeInbound(AddressedEnvelope(remoteAddress: source, data: out.data))
        }
    }
}

func endpointConfiguration() -> CoAPEndpoint.Configuration {
    var c = CoAPEndpoint.Configuration()
    c.randomSeed = 42
    return c
}

@Suite("CoAPEndpoint over NIO testing channels")
struct CoAPEndpointTests {
    static let resources: [CoAPResource] = [
        CoAPResource(path: "/hello", resourceTypes: ["greeting"], contentFormats: [0]) { _ in
            CoAPResponse(code: .content, options: [CoAPOption(.contentFormat, uint: 0)], payload: Array("hello".utf8))
        },
        CoAPResource(path: "/echo", resourceTypes: ["echo"]) { req in
            CoAPResponse(code: .changed, payload: req.payload)
        },
        CoAPResource(path: "/big", resourceTypes: ["big"]) { _ in
            CoAPResponse(code: .content, payload: (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        },
        CoAPResource(path: "/sum", resourceTypes: ["pier.compute"]) { req in
            let numbers = String(decoding: req.payload, as: UTF8.self).split(separator: ",").compactMap { Int($0) }
            return CoAPResponse(code: .content, payload: Array("\(numbers.count):\(numbers.reduce(0, +))".utf8))
        },
    ]

    static func envelope(_ m: CoAPMessage, from peer: SocketAddress) throws -> AddressedEnvelope<ByteBuffer> {
        AddressedEnvelope(remoteAddress: peer, data: try m.encodedBuffer())
    }

    static func reply(_ channel: NIOAsyncTestingChannel) async throws -> CoAPMessage {
        let out = try await channel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
        return try CoAPMessage(decoding: out.data)
    }

    @Test("a CON GET is answered with a piggybacked ACK carrying the token; a duplicate replays it")
    func piggybackedGet() async throws {
        let link = try Link()
        _ = try await CoAPEndpoint.attach(to: link.serverChannel, resources: Self.resources, configuration: endpointConfiguration())
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: 0x1234, token: try CoAPToken([7, 7]))
        req.uriPath = ["hello"]
        try await link.serverChannel.writeInbound(Self.envelope(req, from: link.clientAddress))
        let resp = try await Self.reply(link.serverChannel)
        #expect(resp.type == .acknowledgement && resp.messageID == 0x1234 && resp.token == req.token)
        #expect(resp.code == .content && resp.payload == Array("hello".utf8))
        try await link.serverChannel.writeInbound(Self.envelope(req, from: link.clientAddress))
        #expect(try await Self.reply(link.serverChannel) == resp)
    }

    @Test("unknown path: 4.04; malformed CON: RST; ping: RST; bad critical option: 4.02")
    func errors() async throws {
        let link = try Link()
        _ = try await CoAPEndpoint.attach(to: link.serverChannel, resources: Self.resources, configuration: endpointConfiguration())
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: 1)
        req.uriPath = ["nope"]
        try await link.serverChannel.writeInbound(Self.envelope(req, from: link.clientAddress))
        #expect(try await Self.reply(link.serverChannel).code == .notFound)

        // Token length 9: message format error in a CON → RST with its message ID.
        let bad = ByteBuffer(bytes: [0x49, 0x01, 0x00, 0x02] + Array(repeating: 0, count: 9))
        try await link.serverChannel.writeInbound(AddressedEnvelope(remoteAddress: link.clientAddress, data: bad))
        #expect(try await Self.reply(link.serverChannel) == .empty(.reset, messageID: 2))

        try await link.serverChannel.writeInbound(Self.envelope(.empty(.confirmable, messageID: 3), from: link.clientAddress))
        #expect(try await Self.reply(link.serverChannel) == .empty(.reset, messageID: 3))

        var critical = CoAPMessage(type: .confirmable, code: .get, messageID: 4, options: [CoAPOption(CoAPOptionNumber(2049), value: [1])])
        critical.uriPath = ["hello"]
        try await link.serverChannel.writeInbound(Self.envelope(critical, from: link.clientAddress))
        let r = try await Self.reply(link.serverChannel)
        #expect(r.code == .badOption && r.messageID == 4)
    }

    @Test("client and server end to end: GET, PUT echo, Block1 upload in 16-byte blocks, Block2 download, discovery")
    func endToEnd() async throws {
        let link = try Link()
        var clientConfig = endpointConfiguration()
        clientConfig.preferredBlockSZX = 0  // 16-byte blocks, as the interop case asks
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: clientConfig)
        var serverConfig = endpointConfiguration()
        serverConfig.preferredBlockSZX = 2  // 64-byte Block2 blocks
        _ = try await CoAPEndpoint.attach(to: link.serverChannel, resources: Self.resources, configuration: serverConfig)
        let toServer = Task { await Link.pump(from: link.clientChannel, to: link.serverChannel, source: link.clientAddress) }
        let toClient = Task { await Link.pump(from: link.serverChannel, to: link.clientChannel, source: link.serverAddress) }
        defer {
            toServer.cancel()
            toClient.cancel()
        }

        let hello = try await client.get("/hello", from: link.serverAddress)
        #expect(hello.code == .content && hello.payload == Array("hello".utf8))

        let echo = try await client.put("/echo", to: link.serverAddress, payload: [1, 2, 3])
        #expect(echo.code == .changed && echo.payload == [1, 2, 3])

        let numbers = (1...2000).map(String.init).joined(separator: ",")
        let sum = try await client.put("/sum", to: link.serverAddress, payload: Array(numbers.utf8))
        #expect(String(decoding: sum.payload, as: UTF8.self) == "2000:\(2000 * 2001 / 2)")
        #expect(sum.option(.block1) != nil)

        let big = try await client.get("/big", from: link.serverAddress)
        #expect(big.payload == (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) })

        let links = try await client.discover(link.serverAddress, query: ["rt=pier.*"])
        #expect(links.map(\.target) == ["/sum"])
        let all = try await client.discover(link.serverAddress)
        #expect(all.count == 4)

        let missing = try await client.delete("/nothing", at: link.serverAddress)
        #expect(missing.code == .notFound)
    }

    @Test("Block1 upload to a server of the RFC 7959 drafts (txThings): 2.04 with Block1 M=1 means continue")
    func draftBlock1Server() async throws {
        let link = try Link()
        var clientConfig = endpointConfiguration()
        clientConfig.preferredBlockSZX = 0
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: clientConfig)
        let payload = (0..<100).map { UInt8($0) }
        let upload = Task { try await client.put("/x", to: link.serverAddress, payload: payload) }
        var received: [UInt8] = []
        while true {
            let out = try await link.clientChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
            let request = try CoAPMessage(decoding: out.data)
            let block = try #require(try request.block1())
            #expect(Int(block.number) * 16 == received.count)
            received += request.payload
            var ack = CoAPMessage(type: .acknowledgement, code: .changed, messageID: request.messageID, token: request.token)
            if block.more {
                ack.setOptions(.block1, [BlockOption(unchecked: block.number, more: true, szx: block.szx).option(.block1)])
            } else {
                ack.payload = Array("done".utf8)
            }
            try await link.clientChannel.writeInbound(AddressedEnvelope(remoteAddress: link.serverAddress, data: try ack.encodedBuffer()))
            if !block.more { break }
        }
        let response = try await upload.value
        #expect(received == payload)
        #expect(response.code == .changed && response.payload == Array("done".utf8))
    }

    @Test("a client request to a silent peer fails with a timeout after the retransmissions")
    func timeout() async throws {
        let link = try Link()
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: endpointConfiguration())
        let call = Task { try await client.get("/hello", from: link.serverAddress) }
        var sends = 0
        for _ in 0..<5 {
            _ = try await link.clientChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
            sends += 1
            await link.clientChannel.testingEventLoop.advanceTime(by: .seconds(50))
        }
        #expect(sends == 5)
        await #expect(throws: CoAPEndpointError.self) { try await call.value }
    }

    @Test("observe: registration answers with Observe, notifyChanged sends notifications with rising sequence numbers")
    func observe() async throws {
        let link = try Link()
        let counter = Counter()
        let server = try await CoAPEndpoint.attach(
            to: link.serverChannel,
            resources: [
                CoAPResource(path: "/temp", observable: true) { _ in
                    CoAPResponse(code: .content, payload: Array("\(counter.next())".utf8))
                }
            ], configuration: endpointConfiguration())
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: 10, token: try CoAPToken([1]))
        req.uriPath = ["temp"]
        req.observe = 0
        try await link.serverChannel.writeInbound(Self.envelope(req, from: link.clientAddress))
        let first = try await Self.reply(link.serverChannel)
        #expect(first.observe == 0 && first.payload == Array("1".utf8))
        server.notifyChanged("/temp")
        let n1 = try await Self.reply(link.serverChannel)
        #expect(n1.token == req.token && n1.observe == 1 && n1.payload == Array("2".utf8))
        // The client resets the notification: it is deregistered, the next change sends nothing.
        if n1.type == .confirmable {
            try await link.serverChannel.writeInbound(Self.envelope(.empty(.reset, messageID: n1.messageID), from: link.clientAddress))
        } else {
            var dereg = req
            dereg.messageID = 11
            dereg.observe = 1
            try await link.serverChannel.writeInbound(Self.envelope(dereg, from: link.clientAddress))
            #expect(try await Self.reply(link.serverChannel).observe == nil)
        }
        // A second observer registers: the next change reaches it, and not the first one.
        var other = req
        other.messageID = 12
        other.token = try CoAPToken([2])
        try await link.serverChannel.writeInbound(Self.envelope(other, from: link.clientAddress))
        let registered = try await Self.reply(link.serverChannel)
        #expect(registered.token == other.token && registered.observe != nil)
        server.notifyChanged("/temp")
        let next = try await Self.reply(link.serverChannel)
        #expect(next.token == other.token, "the deregistered observer was notified")
        #expect(try await link.serverChannel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }
}


@Suite("CoAPEndpoint: resources that serve their subpaths")
struct CoAPSubpathTests {
    static func get(_ path: [String], _ link: Link, id: UInt16, observe: Bool = false) async throws -> CoAPMessage {
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: id, token: try CoAPToken([UInt8(id & 0xff)]))
        req.uriPath = path
        if observe { req.observe = 0 }
        try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(req, from: link.clientAddress))
        return try await CoAPEndpointTests.reply(link.serverChannel)
    }

    @Test("/services serves /services/web and /services/web/stop; /servicesX and exact resources are not captured; observe works on a subpath")
    func subpaths() async throws {
        let link = try Link()
        let server = try await CoAPEndpoint.attach(
            to: link.serverChannel,
            resources: [
                CoAPResource(path: "/services", observable: true, servesSubpaths: true) { req in
                    CoAPResponse(code: .content, payload: Array("tree:\(req.path)".utf8))
                },
                CoAPResource(path: "/services/fixed") { _ in CoAPResponse(code: .content, payload: Array("fixed".utf8)) },
                CoAPResource(path: "/plain") { _ in CoAPResponse(code: .content, payload: Array("plain".utf8)) },
            ], configuration: endpointConfiguration())
        #expect(try await Self.get(["services"], link, id: 1).payload == Array("tree:/services".utf8))
        #expect(try await Self.get(["services", "web"], link, id: 2).payload == Array("tree:/services/web".utf8))
        #expect(try await Self.get(["services", "web", "stop"], link, id: 3).payload == Array("tree:/services/web/stop".utf8))
        #expect(try await Self.get(["services", "fixed"], link, id: 4).payload == Array("fixed".utf8))
        #expect(try await Self.get(["servicesX"], link, id: 5).code == .notFound)
        #expect(try await Self.get(["plain", "below"], link, id: 6).code == .notFound)

        let first = try await Self.get(["services", "web"], link, id: 7, observe: true)
        #expect(first.observe == 0)
        server.notifyChanged("/services/other")  // nobody observes it: nothing is sent
        server.notifyChanged("/services/web")
        let n = try await CoAPEndpointTests.reply(link.serverChannel)
        #expect(n.token == first.token && n.observe == 1 && n.payload == Array("tree:/services/web".utf8))
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
}

/// Lets a test hold a resource handler until it says go.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if resumeNow { c.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume() }
    }
}

@Suite("CoAPEndpoint: separate responses, loss and observation end to end")
struct CoAPEndpointExchangeTests {
    @Test("a slow handler: empty ACK after the delay, then the response as a separate CON that the client ACKs")
    func separate() async throws {
        let link = try Link()
        let gate = Gate()
        _ = try await CoAPEndpoint.attach(
            to: link.serverChannel,
            resources: [
                CoAPResource(path: "/slow") { _ in
                    await gate.wait()
                    return CoAPResponse(code: .content, payload: [9])
                }
            ], configuration: endpointConfiguration())
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: 50, token: try CoAPToken([5]))
        req.uriPath = ["slow"]
        try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(req, from: link.clientAddress))
        await link.serverChannel.testingEventLoop.advanceTime(by: .milliseconds(1100))
        #expect(try await CoAPEndpointTests.reply(link.serverChannel) == .empty(.acknowledgement, messageID: 50))
        gate.open()
        let separate = try await CoAPEndpointTests.reply(link.serverChannel)
        #expect(separate.type == .confirmable && separate.token == req.token && separate.payload == [9])
        // Unacknowledged, it is retransmitted; the ACK stops that.
        await link.serverChannel.testingEventLoop.advanceTime(by: .seconds(4))
        #expect(try await CoAPEndpointTests.reply(link.serverChannel) == separate)
        try await link.serverChannel.writeInbound(
            CoAPEndpointTests.envelope(.empty(.acknowledgement, messageID: separate.messageID), from: link.clientAddress))
        await link.serverChannel.testingEventLoop.advanceTime(by: .seconds(100))
        #expect(try await link.serverChannel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) == nil)
    }

    @Test("a lost request is retransmitted and still answered")
    func lossyPath() async throws {
        let link = try Link()
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: endpointConfiguration())
        _ = try await CoAPEndpoint.attach(
            to: link.serverChannel, resources: CoAPEndpointTests.resources, configuration: endpointConfiguration())
        let call = Task { try await client.get("/hello", from: link.serverAddress) }
        // The first transmission is lost.
        let lost = try CoAPMessage(decoding: try await link.clientChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self).data)
        await link.clientChannel.testingEventLoop.advanceTime(by: .seconds(3))
        let again = try await link.clientChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
        #expect(try CoAPMessage(decoding: again.data) == lost)
        try await link.serverChannel.writeInbound(AddressedEnvelope(remoteAddress: link.clientAddress, data: again.data))
        let answer = try await link.serverChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
        try await link.clientChannel.writeInbound(AddressedEnvelope(remoteAddress: link.serverAddress, data: answer.data))
        let response = try await call.value
        #expect(response.payload == Array("hello".utf8))
    }

    @Test("client observe: the first response and each notification arrive in order; cancelling ends it")
    func observeEndToEnd() async throws {
        let link = try Link()
        let counter = Counter()
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: endpointConfiguration())
        let server = try await CoAPEndpoint.attach(
            to: link.serverChannel,
            resources: [
                CoAPResource(path: "/temp", resourceTypes: ["temperature"], observable: true) { _ in
                    CoAPResponse(code: .content, payload: Array("\(counter.next())".utf8))
                }
            ], configuration: endpointConfiguration())
        let toServer = Task { await Link.pump(from: link.clientChannel, to: link.serverChannel, source: link.clientAddress) }
        let toClient = Task { await Link.pump(from: link.serverChannel, to: link.clientChannel, source: link.serverAddress) }
        defer {
            toServer.cancel()
            toClient.cancel()
        }
        var values: [String] = []
        for try await n in client.observe("/temp", on: link.serverAddress) {
            values.append(String(decoding: n.payload, as: UTF8.self))
            if values.count == 4 { break }
            server.notifyChanged("/temp")
        }
        #expect(values == ["1", "2", "3", "4"])
    }
}

@Suite("CoAPEndpoint under bad input")
struct CoAPEndpointAbuseTests {
    @Test("a flood of distinct requests from one peer leaves bounded state and other clients are served")
    func flood() async throws {
        let link = try Link()
        var config = endpointConfiguration()
        config.messageLayer.maxDeduplicationEntries = 64
        let server = try await CoAPEndpoint.attach(to: link.serverChannel, resources: CoAPEndpointTests.resources, configuration: config)
        let flooder = try SocketAddress(ipAddress: "10.0.0.66", port: 1)
        for i in 0..<2000 {
            var m = CoAPMessage(type: .nonConfirmable, code: .get, messageID: UInt16(i), token: CoAPToken(UInt64(i)))
            m.uriPath = ["hello"]
            try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(m, from: flooder))
        }
        // Drain the flood's answers.
        var answered = 0
        while answered < 2000 {
            _ = try await link.serverChannel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
            answered += 1
        }
        let dedup = try await link.serverChannel.testingEventLoop.executeInContext { server.deduplicationCountForTesting() }
        #expect(dedup <= 64)
        var req = CoAPMessage(type: .confirmable, code: .get, messageID: 1, token: try CoAPToken([1]))
        req.uriPath = ["hello"]
        try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(req, from: link.clientAddress))
        #expect(try await CoAPEndpointTests.reply(link.serverChannel).payload == Array("hello".utf8))
    }

    @Test("an upload beyond the server's limit ends in 4.13 with Size1")
    func tooLarge() async throws {
        let link = try Link()
        var serverConfig = endpointConfiguration()
        serverConfig.block1.maxBodySize = 100
        var clientConfig = endpointConfiguration()
        clientConfig.preferredBlockSZX = 0
        let client = try await CoAPEndpoint.attach(to: link.clientChannel, configuration: clientConfig)
        _ = try await CoAPEndpoint.attach(to: link.serverChannel, resources: CoAPEndpointTests.resources, configuration: serverConfig)
        let toServer = Task { await Link.pump(from: link.clientChannel, to: link.serverChannel, source: link.clientAddress) }
        let toClient = Task { await Link.pump(from: link.serverChannel, to: link.clientChannel, source: link.serverAddress) }
        defer {
            toServer.cancel()
            toClient.cancel()
        }
        let r = try await client.put("/echo", to: link.serverAddress, payload: Array(repeating: 1, count: 500))
        #expect(r.code == .requestEntityTooLarge)
        #expect(r.uint(.size1) == 100)
    }
}

@Suite("CoAPEndpoint handler cap")
struct CoAPEndpointHandlerCapTests {
    @Test("beyond the concurrent handler cap requests get 5.03; once handlers finish, requests are served again")
    func cap() async throws {
        let link = try Link()
        let gate = Gate()
        var config = endpointConfiguration()
        config.maxConcurrentHandlers = 2
        _ = try await CoAPEndpoint.attach(
            to: link.serverChannel,
            resources: [
                CoAPResource(path: "/slow") { _ in
                    await gate.wait()
                    return CoAPResponse(code: .content)
                }
            ], configuration: config)
        func send(_ mid: UInt16) async throws {
            var m = CoAPMessage(type: .nonConfirmable, code: .get, messageID: mid, token: CoAPToken(UInt64(mid)))
            m.uriPath = ["slow"]
            try await link.serverChannel.writeInbound(CoAPEndpointTests.envelope(m, from: link.clientAddress))
        }
        try await send(1)
        try await send(2)
        try await send(3)
        let busy = try await CoAPEndpointTests.reply(link.serverChannel)
        #expect(busy.code == .serviceUnavailable && busy.token == CoAPToken(3))
        gate.open()
        let done = [try await CoAPEndpointTests.reply(link.serverChannel), try await CoAPEndpointTests.reply(link.serverChannel)]
        #expect(Set(done.map(\.token)) == [CoAPToken(1), CoAPToken(2)])
        try await send(4)
        #expect(try await CoAPEndpointTests.reply(link.serverChannel).code == .content)
    }
}
