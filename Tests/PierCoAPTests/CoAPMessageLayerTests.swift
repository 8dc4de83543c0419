import Testing

@testable import PierCoAP

typealias Layer = CoAPMessageLayer<String>

extension Array where Element == Layer.Action {
    var sent: [(CoAPMessage, String)] {
        compactMap { if case .send(let m, let p) = $0 { (m, p) } else { nil } }
    }
    var handled: [CoAPMessage] {
        compactMap { if case .handleRequest(let m, _) = $0 { m } else { nil } }
    }
    var delivered: [(CoAPMessage, CoAPRequestHandle)] {
        compactMap { if case .deliver(let m, let h) = $0 { (m, h) } else { nil } }
    }
    var failed: [(CoAPRequestHandle, CoAPRequestFailure)] {
        compactMap { if case .fail(let h, let f) = $0 { (h, f) } else { nil } }
    }
    var timers: [Double] {
        compactMap { if case .scheduleTimer(let t) = $0 { t } else { nil } }
    }
    var rejected: [(CoAPToken, String, CoAPRequestFailure)] {
        compactMap { if case .responseRejected(let t, let p, let r) = $0 { (t, p, r) } else { nil } }
    }
}

@Suite("RFC 7252 §4 message layer")
struct CoAPMessageLayerTests {
    static func get(_ path: String = "x", type: CoAPMessageType = .confirmable) -> CoAPMessage {
        CoAPMessage(type: type, code: .get, messageID: 0, options: [CoAPOption(.uriPath, string: path)])
    }

    static func layer(seed: UInt64 = 1, _ configure: (inout Layer.Configuration) -> Void = { _ in }) -> Layer {
        var c = Layer.Configuration()
        configure(&c)
        return Layer(configuration: c, random: CoAPRandom(seed: seed))
    }

    @Test("a CON request is retransmitted 4 times with doubling timeouts, then fails", arguments: [1, 2, 3] as [UInt64])
    func retransmission(seed: UInt64) throws {
        var l = Self.layer(seed: seed)
        let (handle, first) = l.sendRequest(Self.get(), to: "p", now: 0)
        #expect(first.sent.count == 1)
        let initial = try #require(first.timers.first)
        #expect(initial >= 2 && initial <= 3)
        var now = initial
        var sends = [first.sent[0].0]
        var interval = initial
        for _ in 0..<4 {
            let a = l.timerFired(now: now)
            #expect(a.sent.count == 1)
            sends.append(contentsOf: a.sent.map(\.0))
            interval *= 2
            let next = try #require(a.timers.first)
            #expect(abs(next - (now + interval)) < 1e-9)
            // Nothing happens before the deadline.
            #expect(l.timerFired(now: next - 0.001).sent.isEmpty)
            now = next
        }
        // All copies are the same message: same ID, same token.
        #expect(Set(sends.map(\.messageID)).count == 1)
        #expect(Set(sends.map(\.token)).count == 1)
        let last = l.timerFired(now: now)
        #expect(last.sent.isEmpty)
        #expect(last.failed.map(\.0) == [handle])
        #expect(last.failed.map(\.1) == [.timeout])
        // Total wait: initial × 31, i.e. 62-93 s.
        #expect(now >= 62 && now <= 93)
        #expect(l.pendingRequestCount == 0)
    }

    @Test("a piggybacked ACK delivers the response and stops retransmission")
    func piggybacked() throws {
        var l = Self.layer()
        let (handle, a) = l.sendRequest(Self.get(), to: "p", now: 0)
        let req = a.sent[0].0
        #expect(req.token.bytes.count == 4)
        let ack = CoAPMessage(type: .acknowledgement, code: .content, messageID: req.messageID, token: req.token, payload: [42])
        let b = l.receive(ack, from: "p", now: 1)
        #expect(b.delivered.map(\.1) == [handle])
        #expect(b.delivered.first?.0.payload == [42])
        #expect(l.timerFired(now: 100).isEmpty)
        // A duplicate ACK is ignored.
        #expect(l.receive(ack, from: "p", now: 2).isEmpty)
        // An ACK from a different peer with the same ID matches nothing.
        var l2 = Self.layer()
        let (_, c) = l2.sendRequest(Self.get(), to: "p", now: 0)
        var other = ack
        other.messageID = c.sent[0].0.messageID
        #expect(l2.receive(other, from: "q", now: 1).delivered.isEmpty)
    }

    @Test("NSTART 1: a second CON to the same peer waits for the first ACK; other peers do not")
    func nstart() throws {
        var l = Self.layer()
        let (_, a) = l.sendRequest(Self.get("a"), to: "p", now: 0)
        let (h2, b) = l.sendRequest(Self.get("b"), to: "p", now: 0)
        #expect(b.sent.isEmpty)
        let (_, c) = l.sendRequest(Self.get("c"), to: "q", now: 0)
        #expect(c.sent.count == 1)
        let first = a.sent[0].0
        let d = l.receive(
            CoAPMessage(type: .acknowledgement, code: .content, messageID: first.messageID, token: first.token), from: "p", now: 1)
        #expect(d.sent.map(\.0.uriPath) == [["b"]])
        let second = d.sent[0].0
        #expect(second.messageID != first.messageID)
        let e = l.receive(
            CoAPMessage(type: .acknowledgement, code: .changed, messageID: second.messageID, token: second.token), from: "p", now: 2)
        #expect(e.delivered.map(\.1) == [h2])
    }

    @Test("the NSTART queue is bounded")
    func queueFull() {
        var l = Self.layer { $0.maxQueuedPerPeer = 2 }
        _ = l.sendRequest(Self.get(), to: "p", now: 0)
        _ = l.sendRequest(Self.get(), to: "p", now: 0)
        _ = l.sendRequest(Self.get(), to: "p", now: 0)
        let (h, a) = l.sendRequest(Self.get(), to: "p", now: 0)
        #expect(a.failed.map(\.0) == [h] && a.failed.map(\.1) == [.queueFull])
        #expect(l.pendingRequestCount == 3)
    }

    @Test("empty ACK then a separate CON response: the client ACKs it, delivers once")
    func separateResponse() throws {
        var l = Self.layer()
        let (handle, a) = l.sendRequest(Self.get(), to: "p", now: 0)
        let req = a.sent[0].0
        let b = l.receive(.empty(.acknowledgement, messageID: req.messageID), from: "p", now: 1)
        #expect(b.delivered.isEmpty && b.failed.isEmpty)
        #expect(l.timerFired(now: 60).sent.isEmpty)  // acknowledged: no retransmission
        let separate = CoAPMessage(type: .confirmable, code: .content, messageID: 0x9000, token: req.token, payload: [1])
        let c = l.receive(separate, from: "p", now: 61)
        #expect(c.sent.map(\.0) == [.empty(.acknowledgement, messageID: 0x9000)])
        #expect(c.delivered.map(\.1) == [handle])
        // The server did not get our ACK and retransmits: ACK again, no second delivery.
        let d = l.receive(separate, from: "p", now: 63)
        #expect(d.sent.map(\.0) == [.empty(.acknowledgement, messageID: 0x9000)])
        #expect(d.delivered.isEmpty)
    }

    @Test("a separate response that never comes fails the request after the response timeout")
    func separateTimeout() {
        var l = Self.layer { $0.responseTimeout = 10 }
        let (handle, a) = l.sendRequest(Self.get(), to: "p", now: 0)
        let b = l.receive(.empty(.acknowledgement, messageID: a.sent[0].0.messageID), from: "p", now: 1)
        #expect(b.failed.isEmpty)
        #expect(l.nextDeadline == 11)
        #expect(l.timerFired(now: 10.9).failed.isEmpty)
        #expect(l.timerFired(now: 11).failed.map(\.0) == [handle])
    }

    @Test("RST to a request fails it")
    func resetFails() {
        var l = Self.layer()
        let (handle, a) = l.sendRequest(Self.get(), to: "p", now: 0)
        let b = l.receive(.empty(.reset, messageID: a.sent[0].0.messageID), from: "p", now: 1)
        #expect(b.failed.map(\.0) == [handle] && b.failed.map(\.1) == [.reset])
    }

    @Test("a CON ping is answered with RST; an unmatched CON response with RST")
    func pingAndUnmatched() {
        var l = Self.layer()
        #expect(l.receive(.empty(.confirmable, messageID: 77), from: "p", now: 0).sent.map(\.0) == [.empty(.reset, messageID: 77)])
        let stray = CoAPMessage(type: .confirmable, code: .content, messageID: 78, token: CoAPToken(5))
        #expect(l.receive(stray, from: "p", now: 0).sent.map(\.0) == [.empty(.reset, messageID: 78)])
        var nonStray = stray
        nonStray.type = .nonConfirmable
        nonStray.messageID = 79
        #expect(l.receive(nonStray, from: "p", now: 0).isEmpty)
        #expect(l.receiveMalformed(type: .confirmable, messageID: 80, from: "p").sent.map(\.0) == [.empty(.reset, messageID: 80)])
        #expect(l.receiveMalformed(type: .nonConfirmable, messageID: 81, from: "p").isEmpty)
    }

    @Test("server: duplicates replay the cached response for EXCHANGE_LIFETIME, then count as new")
    func deduplication() {
        var l = Self.layer()
        var req = Self.get()
        req.messageID = 500
        req.token = CoAPToken(9)
        let a = l.receive(req, from: "c", now: 0)
        #expect(a.handled == [req])
        // A duplicate while the handler is still working: nothing, and not handled twice.
        #expect(l.receive(req, from: "c", now: 0.5).isEmpty)
        let b = l.respond(to: req, from: "c", with: CoAPResponse(code: .content, payload: [7]), now: 1)
        let expected = CoAPMessage(type: .acknowledgement, code: .content, messageID: 500, token: CoAPToken(9), payload: [7])
        #expect(b.sent.map(\.0) == [expected])
        let c = l.receive(req, from: "c", now: 200)
        #expect(c.handled.isEmpty)
        #expect(c.sent.map(\.0) == [expected])
        // Same message ID from another client is a different exchange.
        #expect(l.receive(req, from: "d", now: 200).handled == [req])
        // After 247 s the ID may be reused.
        #expect(l.receive(req, from: "c", now: 247.5).handled == [req])
    }

    @Test("the deduplication table stays bounded under a flood of distinct message IDs")
    func dedupBounded() {
        var l = Self.layer { $0.maxDeduplicationEntries = 100 }
        for i in 0..<10_000 {
            var m = Self.get(type: .nonConfirmable)
            m.messageID = UInt16(truncatingIfNeeded: i)
            _ = l.receive(m, from: "flood-\(i % 7)", now: Double(i) / 1000)
        }
        #expect(l.deduplicationCount <= 100)
        #expect(l.seenOrderLength <= 100 + 1024 + 1)
    }

    @Test("an unrecognised critical option gets 4.02 and never reaches the handler; elective ones are ignored")
    func badOption() {
        var l = Self.layer()
        var req = Self.get()
        req.messageID = 1
        req.options.append(CoAPOption(CoAPOptionNumber(9), value: [1]))
        let a = l.receive(req, from: "c", now: 0)
        #expect(a.handled.isEmpty)
        #expect(a.sent.map(\.0.code) == [.badOption])
        #expect(a.sent.map(\.0.type) == [.acknowledgement])
        var elective = Self.get()
        elective.messageID = 2
        elective.options.append(CoAPOption(CoAPOptionNumber(10), value: [1]))
        #expect(l.receive(elective, from: "c", now: 0).handled.count == 1)
        // The application can declare an option as understood.
        var l2 = Self.layer { $0.additionalKnownOptions = [CoAPOptionNumber(9)] }
        #expect(l2.receive(req, from: "c", now: 0).handled.count == 1)
    }

    @Test("server: separate response is a retransmitted CON; RST from the client reports the token")
    func serverSeparate() throws {
        var l = Self.layer()
        var req = Self.get()
        req.messageID = 10
        req.token = CoAPToken(3)
        _ = l.receive(req, from: "c", now: 0)
        #expect(l.acknowledge(req, from: "c").sent.map(\.0) == [.empty(.acknowledgement, messageID: 10)])
        // The request is retransmitted: the empty ACK is replayed.
        #expect(l.receive(req, from: "c", now: 1).sent.map(\.0) == [.empty(.acknowledgement, messageID: 10)])
        let a = l.respond(to: req, from: "c", with: CoAPResponse(code: .content), now: 2)
        let resp = try #require(a.sent.first?.0)
        #expect(resp.type == .confirmable && resp.token == CoAPToken(3) && resp.messageID != 10)
        let t = try #require(a.timers.first)
        #expect(l.timerFired(now: t).sent.map(\.0) == [resp])
        let b = l.receive(.empty(.reset, messageID: resp.messageID), from: "c", now: t + 1)
        #expect(b.rejected.map(\.0) == [CoAPToken(3)] && b.rejected.map(\.2) == [.reset])
    }

    @Test("server: NON request gets a NON response with a fresh message ID")
    func nonResponse() {
        var l = Self.layer()
        var req = Self.get(type: .nonConfirmable)
        req.messageID = 10
        _ = l.receive(req, from: "c", now: 0)
        let a = l.respond(to: req, from: "c", with: CoAPResponse(code: .content), now: 0)
        #expect(a.sent.map(\.0.type) == [.nonConfirmable])
        #expect(a.sent.first?.0.messageID != 10)
    }

    @Test("a NON request without an answer fails after the response timeout")
    func nonRequestTimeout() {
        var l = Self.layer { $0.responseTimeout = 5 }
        let (h, a) = l.sendRequest(Self.get(type: .nonConfirmable), to: "p", now: 0)
        #expect(a.sent.first?.0.type == .nonConfirmable)
        #expect(a.timers == [5])
        #expect(l.timerFired(now: 5).failed.map(\.0) == [h])
    }

    @Test("an observing request stays open for notifications until cancelled")
    func observeHandle() throws {
        var l = Self.layer()
        var req = Self.get()
        req.observe = 0
        let (h, a) = l.sendRequest(req, to: "p", now: 0, observe: true)
        let sent = a.sent[0].0
        var first = CoAPMessage(type: .acknowledgement, code: .content, messageID: sent.messageID, token: sent.token)
        first.observe = 1
        #expect(l.receive(first, from: "p", now: 1).delivered.map(\.1) == [h])
        var note = CoAPMessage(type: .nonConfirmable, code: .content, messageID: 4000, token: sent.token)
        note.observe = 2
        #expect(l.receive(note, from: "p", now: 2).delivered.map(\.1) == [h])
        #expect(l.pendingRequestCount == 1)
        _ = l.cancel(h, now: 3)
        note.messageID = 4001
        note.type = .confirmable
        // After cancelling, a CON notification is rejected so the server forgets us.
        #expect(l.receive(note, from: "p", now: 4).sent.map(\.0) == [.empty(.reset, messageID: 4001)])
    }
}

@Suite("Message layer: responses with unrecognised critical options")
struct CoAPMessageLayerCriticalResponseTests {
    @Test("a separate CON response with an unknown critical option is reset and not delivered")
    func rejectResponse() {
        var l = CoAPMessageLayerTests.layer()
        let (_, a) = l.sendRequest(CoAPMessageLayerTests.get(), to: "p", now: 0)
        let req = a.sent[0].0
        _ = l.receive(.empty(.acknowledgement, messageID: req.messageID), from: "p", now: 1)
        let bad = CoAPMessage(
            type: .confirmable, code: .content, messageID: 900, token: req.token,
            options: [CoAPOption(CoAPOptionNumber(2049))])
        let b = l.receive(bad, from: "p", now: 2)
        #expect(b.delivered.isEmpty)
        #expect(b.sent.map(\.0) == [.empty(.reset, messageID: 900)])
        #expect(l.pendingRequestCount == 1)
    }

    @Test("a piggybacked response with an unknown critical option is ignored, so the request is retransmitted")
    func ignorePiggybacked() throws {
        var l = CoAPMessageLayerTests.layer()
        let (_, a) = l.sendRequest(CoAPMessageLayerTests.get(), to: "p", now: 0)
        let req = a.sent[0].0
        let bad = CoAPMessage(
            type: .acknowledgement, code: .content, messageID: req.messageID, token: req.token,
            options: [CoAPOption(CoAPOptionNumber(2049))])
        #expect(l.receive(bad, from: "p", now: 1).isEmpty)
        let t = try #require(l.nextDeadline)
        #expect(l.timerFired(now: t).sent.map(\.0) == [req])
    }
}
