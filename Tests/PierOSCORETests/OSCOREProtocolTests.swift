import Foundation
import PierCoAP
import Testing

@testable import PierOSCORE

@Suite("The OSCORE option value: encoding and strict decoding")
struct OSCOREOptionValueTests {
    @Test func roundTripsEveryShape() throws {
        let values = [
            OSCOREOptionValue(), OSCOREOptionValue(partialIV: [0]), OSCOREOptionValue(partialIV: [0x14], kid: []),
            OSCOREOptionValue(partialIV: [1, 2, 3, 4, 5], kid: [9, 9]), OSCOREOptionValue(partialIV: [0x14], kidContext: h("37cbf3210017a2d3"), kid: []),
            OSCOREOptionValue(kidContext: [], kid: [1]),
        ]
        for v in values { #expect(try OSCOREOptionValue(decoding: v.encoded()) == v, "\(v)") }
        #expect(OSCOREOptionValue().encoded() == [])
        #expect(OSCOREOptionValue.partialIV(0) == [0] && OSCOREOptionValue.partialIV(256) == [1, 0])
        #expect(OSCOREOptionValue(partialIV: [1, 0]).sequence == 256)
    }

    @Test(arguments: [
        ([0x20], "reserved flag bits"), ([0x80, 0x01], "reserved flag bits"), ([0x06, 1, 2, 3, 4, 5, 6], "length 6 is reserved"),
        ([0x07], "length 7 is reserved"), ([0x03, 1, 2], "needs 3 bytes"), ([0x02, 0, 1], "leading zero"),
        ([0x00], "empty option"), ([0x00, 5], "empty option"), ([0x11, 5], "length byte is missing"),
        ([0x19, 0x14, 0x08, 1, 2], "needs 8 bytes"), ([0x01, 0x14, 0xAA], "kid flag is clear"),
    ] as [([UInt8], String)])
    func refusesMalformedValues(bytes: [UInt8], why: String) {
        do {
            let v = try OSCOREOptionValue(decoding: bytes)
            Issue.record("accepted \(bytes) as \(v)")
        } catch {
            #expect(error.description.contains(why), "\(error)")
            #expect(error.responseCode == .badOption)
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let bytes = (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let v = try? OSCOREOptionValue(decoding: bytes) { #expect(v.encoded() == bytes, "\(bytes)") }
        }
    }
}

@Suite("The replay window")
struct OSCOREReplayWindowTests {
    @Test func acceptsEachNumberOnceWithinTheWindow() {
        var w = OSCOREReplayWindow.empty
        #expect(w.isFresh(0) && w.isFresh(1 << 39))
        w.accept(5)
        #expect(!w.isFresh(5) && w.isFresh(4) && w.isFresh(0) && w.isFresh(6))
        w.accept(3)
        #expect(!w.isFresh(3) && w.isFresh(4))
        w.accept(5 + 63)  // 5 is now the oldest in the window
        #expect(!w.isFresh(5) && w.isFresh(6) && !w.isFresh(4))
        w.accept(5 + 64)  // 5 slid out: too old, refused
        #expect(!w.isFresh(5) && w.isFresh(6) && w.highest == 69)
        w.accept(1000)  // a jump past the window forgets everything below it
        #expect(!w.isFresh(1000) && w.isFresh(999) && w.isFresh(937) && !w.isFresh(936))
    }

    @Test func startingAtAnEchoedRequestRefusesEverythingBelow() {
        var w = OSCOREReplayWindow.startingAt(100)
        #expect(!w.isFresh(100) && !w.isFresh(99) && !w.isFresh(37) && !w.isFresh(0) && w.isFresh(101))
        w.accept(103)
        #expect(w.isFresh(101) && w.isFresh(102) && !w.isFresh(100) && !w.isFresh(103))
    }
}

/// A client and a server with one shared context, and helpers to pass messages between them.
struct Pair {
    static let secret = Array("0123456789abcdef0123456789abcdef".utf8)
    let client: OSCORESecurityContext
    let serverContext: OSCORESecurityContext
    var server: OSCOREServerState
    var sequence: UInt64 = 0

    init(reserved: [String: UInt64] = [:], lookahead: UInt64 = 4) throws {
        client = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: [7], senderID: [0xC1], recipientID: [])
        serverContext = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: [7], senderID: [], recipientID: [0xC1])
        let other = try OSCORESecurityContext(masterSecret: Array("another secret..".utf8), senderID: [], recipientID: [0xC2])
        server = try OSCOREServerState(
            clients: [("sensor", serverContext), ("other", other)], reserved: reserved, lookahead: lookahead, echo: { [0xEC, 0x40] })
    }

    static func get(_ path: String, _ extra: [CoAPOption] = []) -> CoAPMessage {
        var m = CoAPMessage(type: .confirmable, code: .get, messageID: 7, token: CoAPToken(0x1122), options: extra)
        m.uriPath = path.split(separator: "/").map(String.init)
        return m
    }

    mutating func protect(_ m: CoAPMessage) throws -> (CoAPMessage, OSCORERequestBinding) {
        defer { sequence += 1 }
        return try OSCOREProtection.protectRequest(m, context: client, sequence: sequence)
    }

    /// Opens through the server, answering an Echo challenge the way a client does.
    mutating func serve(_ m: CoAPMessage) throws -> (CoAPMessage, Int, OSCORERequestBinding) {
        let (outer, _) = try protect(m)
        switch server.open(outer) {
        case .request(let inner, let c, let b): return (inner, c, b)
        case .echoChallenge(let c, let b):
            var challenge = server.echoChallenge(client: c)
            let n = server.takeSequence(client: c)!
            if let bound = n.persist { server.confirm(client: c, sequence: n.sequence, reservedBelow: bound) }
            challenge = try server.seal(challenge, client: c, binding: b, ownSequence: n.sequence)
            let wire = CoAPMessage(type: .acknowledgement, code: challenge.code, messageID: 7, options: challenge.options, payload: challenge.payload)
            let (opened, piv) = try OSCOREProtection.unprotectResponse(wire, context: client, binding: b)
            #expect(opened.code == .unauthorized && piv != nil)
            var again = m
            again.options.append(opened.option(.echo)!)
            let (outer2, _) = try protect(again)
            guard case .request(let inner, let c2, let b2) = server.open(outer2) else { throw OSCOREError.decryptionFailed }
            return (inner, c2, b2)
        default: throw OSCOREError.decryptionFailed
        }
    }
}

@Suite("The OSCORE server: contexts, replay, alteration, Echo recovery, own sequence numbers")
struct OSCOREServerStateTests {
    @Test func firstRequestIsChallengedThenServedAndAReplayIsRefused() throws {
        var pair = try Pair()
        let (outer, _) = try pair.protect(Pair.get("/services"))
        // After a (re)start nothing is accepted before an Echo round trip, not even a valid request.
        guard case .echoChallenge = pair.server.open(outer) else { Issue.record("expected an Echo challenge"); return }
        guard case .echoChallenge = pair.server.open(outer) else { Issue.record("expected an Echo challenge again"); return }

        let (inner, client, _) = try pair.serve(Pair.get("/services/a"))
        #expect(inner.path == "/services/a" && inner.option(.echo) == nil && pair.server.clients[client].name == "sensor")
        #expect(inner.token == CoAPToken(0x1122) && inner.messageID == 7 && inner.code == .get)

        let (fresh, _) = try pair.protect(Pair.get("/services/b"))
        guard case .request(let b, _, _) = pair.server.open(fresh) else { Issue.record("fresh request refused"); return }
        #expect(b.path == "/services/b")
        guard case .refused(let e) = pair.server.open(fresh) else { Issue.record("replay accepted"); return }
        #expect(e == .replay(sequence: 3) && e.response.code == .unauthorized)
        #expect(String(decoding: e.response.payload, as: UTF8.self).contains("Replay detected"))
        // The challenged request from before the Echo is a replay now too.
        guard case .refused(.replay) = pair.server.open(outer) else { Issue.record("old request accepted"); return }
    }

    @Test func alteredRequestsAreRefusedAndDoNotMoveTheWindow() throws {
        var pair = try Pair()
        _ = try pair.serve(Pair.get("/warm"))
        let (outer, _) = try pair.protect(Pair.get("/services", [CoAPOption(.uriQuery, string: "x")]))
        for i in 0..<outer.payload.count {
            var altered = outer
            altered.payload[i] ^= 0x80
            guard case .refused(let e) = pair.server.open(altered) else { Issue.record("altered byte \(i) accepted"); return }
            #expect(e == .decryptionFailed && e.response.code == .badRequest)
        }
        // Class U options are not encrypted, but a changed kid or Partial IV breaks the AAD or the nonce.
        var otherPIV = outer
        otherPIV.setOptions(.oscore, [CoAPOption(.oscore, value: OSCOREOptionValue(partialIV: [0x40], kid: [0xC1]).encoded())])
        guard case .refused(.decryptionFailed) = pair.server.open(otherPIV) else { Issue.record("changed Partial IV accepted"); return }
        var unknown = outer
        unknown.setOptions(.oscore, [CoAPOption(.oscore, value: OSCOREOptionValue(partialIV: [9], kid: [0x99]).encoded())])
        guard case .refused(let e) = pair.server.open(unknown) else { Issue.record("unknown kid accepted"); return }
        #expect(e.response.code == .unauthorized && e.description.contains("Security context not found"))
        var garbled = outer
        garbled.setOptions(.oscore, [CoAPOption(.oscore, value: [0xE0])])
        guard case .refused(let g) = pair.server.open(garbled) else { Issue.record("garbled option accepted"); return }
        #expect(g.response.code == .badOption && g.description.contains("Failed to decode COSE"))
        var get = outer
        get.code = .get
        guard case .refused(.outerMethod) = pair.server.open(get) else { Issue.record("outer GET accepted"); return }
        // The untouched request is still fresh: refusals changed nothing.
        guard case .request = pair.server.open(outer) else { Issue.record("original refused"); return }
    }

    @Test func responsesAndNotificationsOpenAtTheClient() throws {
        var pair = try Pair(lookahead: 2)
        let (_, client, binding) = try pair.serve(Pair.get("/services", [CoAPOption(.observe, uint: 0)]))
        let first = try pair.server.seal(
            CoAPResponse(code: .content, options: [CoAPOption(.observe, uint: 5)], payload: [1]), client: client, binding: binding, ownSequence: nil)
        #expect(first.code == .content && first.uint(.observe) == 5)
        let wire = CoAPMessage(type: .acknowledgement, code: first.code, messageID: 1, options: first.options, payload: first.payload)
        let (opened, piv) = try OSCOREProtection.unprotectResponse(wire, context: pair.client, binding: binding)
        #expect(opened.payload == [1] && opened.observe == 5 && piv == nil)
        // Each notification gets a fresh Partial IV of the server's own; the bound moves ahead of them.
        var pivs: [UInt64] = []
        for i in 0..<5 {
            let n = pair.server.takeSequence(client: client)!
            if let bound = n.persist {
                #expect(bound == n.sequence + 2)
                pair.server.confirm(client: client, sequence: n.sequence, reservedBelow: bound)
            }
            let sealed = try pair.server.seal(
                CoAPResponse(code: .content, options: [CoAPOption(.observe, uint: UInt32(6 + i))], payload: [UInt8(i)]),
                client: client, binding: binding, ownSequence: n.sequence)
            let w = CoAPMessage(type: .nonConfirmable, code: sealed.code, messageID: 2, options: sealed.options, payload: sealed.payload)
            let (o, p) = try OSCOREProtection.unprotectResponse(w, context: pair.client, binding: binding)
            #expect(o.payload == [UInt8(i)] && o.observe == UInt32(6 + i))
            pivs.append(p!)
        }
        #expect(pivs == pivs.sorted() && Set(pivs).count == 5)
        #expect(pair.server.reservations[pair.serverContext.fingerprint]! > pivs.last!)
    }

    @Test func aRestartedServerContinuesAboveTheReservedBound() throws {
        var pair = try Pair(lookahead: 10)
        let (_, client, _) = try pair.serve(Pair.get("/x"))  // the Echo challenge used number 0
        let reserved = pair.server.reservations
        #expect(reserved[pair.serverContext.fingerprint] == 10)
        let restarted = try Pair(reserved: reserved, lookahead: 10)
        var state = restarted.server
        let n = state.takeSequence(client: client)!
        #expect(n.sequence == 10 && n.persist == 20)
    }

    @Test func duplicateClientIDsAreRefused() throws {
        let a = try OSCORESecurityContext(masterSecret: [1], senderID: [], recipientID: [5])
        let b = try OSCORESecurityContext(masterSecret: [2], senderID: [1], recipientID: [5])
        #expect(throws: OSCOREError.self) { try OSCOREServerState(clients: [("a", a), ("b", b)], reserved: [:], echo: { [] }) }
        #expect(throws: OSCOREError.self) { try OSCORESecurityContext(masterSecret: [1], senderID: [1], recipientID: [1]) }
        #expect(throws: OSCOREError.self) { try OSCORESecurityContext(masterSecret: [1], senderID: Array(repeating: 1, count: 8), recipientID: []) }
    }
}

@Suite("The sequence file")
struct OSCORESequenceFileTests {
    @Test func savesDurablyWithPrivateModesAndRefusesGarbage() throws {
        let dir = NSTemporaryDirectory() + "pier-oscore-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try OSCORESequenceFile(directory: dir)
        #expect(try file.load() == [:])
        try file.save(["abc": 512])
        #expect(try file.load() == ["abc": 512])
        let dirMode = try FileManager.default.attributesOfItem(atPath: dir)[.posixPermissions] as? Int
        let fileMode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(dirMode == 0o700 && fileMode == 0o600)
        try "not json".write(toFile: file.path, atomically: true, encoding: .utf8)
        #expect(throws: OSCOREError.self) { try file.load() }
        #expect(throws: OSCOREError.self) { try OSCOREServer(clients: [], file: file) }
    }
}
