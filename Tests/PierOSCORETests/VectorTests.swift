import PierCoAP
import Testing

@testable import PierOSCORE

func h(_ s: String) -> [UInt8] {
    let chars = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: chars.count, by: 2).map { UInt8(String(chars[$0...$0 + 1]), radix: 16)! }
}

func hexString(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

@Suite("AES-CCM-16-64-128 against RFC 3610's packet vectors 1-4 (M = 8, L = 2)")
struct AESCCMTests {
    static let key = h("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf")

    @Test(arguments: [
        ("00000003020100a0a1a2a3a4a5", 8, 0x1f, "588c979a61c663d2f066d0c2c0f989806d5f6b61dac38417e8d12cfdf926e0"),
        ("00000004030201a0a1a2a3a4a5", 8, 0x20, "72c91a36e135f8cf291ca894085c87e3cc15c439c9e43a3ba091d56e10400916"),
        ("00000005040302a0a1a2a3a4a5", 8, 0x21, "51b1e5f44a197d1da46b0f8e2d282ae871e838bb64da8596574adaa76fbd9fb0c5"),
        ("00000006050403a0a1a2a3a4a5", 12, 0x1f, "a28c6865939a9a79faaa5c4c2a9d4a91cdac8c96c861b9c9e61ef1"),
    ])
    func packetVector(nonce: String, header: Int, end: Int, expected: String) throws {
        let aad = (0..<header).map(UInt8.init)
        let plaintext = (header..<end).map(UInt8.init)
        let sealed = try AESCCM16_64_128.seal(plaintext, key: Self.key, nonce: h(nonce), aad: aad)
        #expect(hexString(sealed) == expected)
        #expect(AESCCM16_64_128.open(sealed, key: Self.key, nonce: h(nonce), aad: aad) == plaintext)
    }

    @Test func anyAlteredBitIsRefused() throws {
        let nonce = h("00000003020100a0a1a2a3a4a5")
        let sealed = try AESCCM16_64_128.seal(Array("hello".utf8), key: Self.key, nonce: nonce, aad: [1, 2, 3])
        for i in 0..<sealed.count {
            var altered = sealed
            altered[i] ^= 0x01
            #expect(AESCCM16_64_128.open(altered, key: Self.key, nonce: nonce, aad: [1, 2, 3]) == nil)
        }
        #expect(AESCCM16_64_128.open(sealed, key: Self.key, nonce: nonce, aad: [1, 2, 4]) == nil)
        #expect(AESCCM16_64_128.open(Array(sealed.dropLast()), key: Self.key, nonce: nonce, aad: [1, 2, 3]) == nil)
        #expect(AESCCM16_64_128.open([], key: Self.key, nonce: nonce, aad: []) == nil)
        // Empty plaintext and long messages (many counter blocks) round-trip.
        for n in [0, 1, 15, 16, 17, 1000] {
            let m = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let s = try AESCCM16_64_128.seal(m, key: Self.key, nonce: nonce, aad: [])
            #expect(s.count == n + 8 && AESCCM16_64_128.open(s, key: Self.key, nonce: nonce, aad: []) == m)
        }
        #expect(throws: AESCCM16_64_128.Failure.keyLength(3)) { try AESCCM16_64_128.seal([], key: [1, 2, 3], nonce: nonce, aad: []) }
        #expect(throws: AESCCM16_64_128.Failure.nonceLength(2)) { try AESCCM16_64_128.seal([], key: Self.key, nonce: [1, 2], aad: []) }
    }
}

/// RFC 8613 Appendix C, byte for byte.
@Suite("OSCORE against RFC 8613 Appendix C")
struct RFC8613VectorTests {
    static let secret = h("0102030405060708090a0b0c0d0e0f10")
    static let salt = h("9e7ca92223786340")

    @Test func c1KeyDerivationWithMasterSalt() throws {
        #expect(hexString(OSCORESecurityContext.info(id: [], idContext: nil, type: "Key", length: 16)) == "8540f60a634b657910")
        #expect(hexString(OSCORESecurityContext.info(id: [1], idContext: nil, type: "Key", length: 16)) == "854101f60a634b657910")
        #expect(hexString(OSCORESecurityContext.info(id: [], idContext: nil, type: "IV", length: 13)) == "8540f60a6249560d")
        let client = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1])
        #expect(hexString(client.senderKey) == "f0910ed7295e6ad4b54fc793154302ff")
        #expect(hexString(client.recipientKey) == "ffb14e093c94c9cac9471648b4f98710")
        #expect(hexString(client.commonIV) == "4622d4dd6d944168eefb54987c")
        #expect(hexString(client.nonce(partialIV: [0], idPIV: [])) == "4622d4dd6d944168eefb54987c")
        #expect(hexString(client.nonce(partialIV: [0], idPIV: [1])) == "4722d4dd6d944169eefb54987c")
        let server = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [1], recipientID: [])
        #expect(server.senderKey == client.recipientKey && server.recipientKey == client.senderKey && server.commonIV == client.commonIV)
    }

    @Test func c2KeyDerivationWithoutMasterSalt() throws {
        let client = try OSCORESecurityContext(masterSecret: Self.secret, senderID: [0], recipientID: [1])
        #expect(hexString(client.senderKey) == "321b26943253c7ffb6003b0b64d74041")
        #expect(hexString(client.recipientKey) == "e57b5635815177cd679ab4bcec9d7dda")
        #expect(hexString(client.commonIV) == "be35ae297d2dace910c52e99f9")
        #expect(hexString(client.nonce(partialIV: [0], idPIV: [0])) == "bf35ae297d2dace910c52e99f9")
        #expect(hexString(client.nonce(partialIV: [0], idPIV: [1])) == "bf35ae297d2dace810c52e99f9")
    }

    @Test func c3KeyDerivationWithIDContext() throws {
        let client = try OSCORESecurityContext(
            masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1], idContext: h("37cbf3210017a2d3"))
        #expect(hexString(client.senderKey) == "af2a1300a5e95788b356336eeecd2b92")
        #expect(hexString(client.recipientKey) == "e39a0c7c77b43f03b4b39ab9a268699f")
        #expect(hexString(client.commonIV) == "2ca58fb85ff1b81c0b7181b85e")
        #expect(hexString(client.nonce(partialIV: [0], idPIV: [1])) == "2da58fb85ff1b81d0b7181b85e")
    }

    static func request(_ hexBytes: String) throws -> CoAPMessage { try CoAPMessage(decoding: h(hexBytes)) }

    @Test func c4RequestWithMasterSalt() throws {
        let client = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1])
        #expect(hexString(OSCORESecurityContext.aad(requestKID: [], requestPIV: [0x14])) == "8368456e63727970743040488501810a40411440")
        #expect(hexString(client.nonce(partialIV: [0x14], idPIV: [])) == "4622d4dd6d944168eefb549868")
        let plain = try Self.request("44015d1f00003974396c6f63616c686f737483747631")
        let (outer, binding) = try OSCOREProtection.protectRequest(plain, context: client, sequence: 20)
        #expect(hexString(try outer.encoded()) == "44025d1f00003974396c6f63616c686f7374620914ff612f1092f1776f1c1668b3825e")
        #expect(binding == OSCORERequestBinding(kid: [], partialIV: [0x14]))

        // The server opens it into the request the client meant.
        let server = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [1], recipientID: [])
        let value = try OSCOREOptionValue(decoding: outer.option(.oscore)!.value)
        let (inner, serverBinding) = try OSCOREProtection.unprotectRequest(outer, value: value, context: server)
        #expect(inner == plain && serverBinding == binding)
    }

    @Test func c5RequestWithoutMasterSalt() throws {
        let client = try OSCORESecurityContext(masterSecret: Self.secret, senderID: [0], recipientID: [1])
        #expect(hexString(OSCORESecurityContext.aad(requestKID: [0], requestPIV: [0x14])) == "8368456e63727970743040498501810a4100411440")
        let (outer, _) = try OSCOREProtection.protectRequest(try Self.request("440171c30000b932396c6f63616c686f737483747631"), context: client, sequence: 20)
        #expect(hexString(try outer.encoded()) == "440271c30000b932396c6f63616c686f737463091400ff4ed339a5a379b0b8bc731fffb0")
    }

    @Test func c6RequestWithKIDContext() throws {
        let client = try OSCORESecurityContext(
            masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1], idContext: h("37cbf3210017a2d3"))
        let (outer, _) = try OSCOREProtection.protectRequest(
            try Self.request("44012f8eef9bbf7a396c6f63616c686f737483747631"), context: client, sequence: 20, sendKIDContext: true)
        #expect(hexString(try outer.encoded()) == "44022f8eef9bbf7a396c6f63616c686f73746b19140837cbf3210017a2d3ff72cd7273fd331ac45cffbe55c3")
    }

    static let response = CoAPResponse(code: .content, payload: Array("Hello World!".utf8))

    @Test func c7ResponseWithoutPartialIV() throws {
        let server = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [1], recipientID: [])
        let binding = OSCORERequestBinding(kid: [], partialIV: [0x14])
        let sealed = try OSCOREProtection.protectResponse(Self.response, context: server, binding: binding, ownSequence: nil)
        let wire = CoAPMessage(type: .acknowledgement, code: sealed.code, messageID: 0x5d1f, token: try CoAPToken(h("00003974")), options: sealed.options, payload: sealed.payload)
        #expect(hexString(try wire.encoded()) == "64445d1f0000397490ffdbaad1e9a7e7b2a813d3c31524378303cdafae119106")

        let client = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1])
        let (opened, piv) = try OSCOREProtection.unprotectResponse(wire, context: client, binding: binding)
        #expect(opened.code == .content && opened.payload == Self.response.payload && piv == nil)
    }

    @Test func c8ResponseWithPartialIV() throws {
        let server = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [1], recipientID: [])
        let binding = OSCORERequestBinding(kid: [], partialIV: [0x14])
        let sealed = try OSCOREProtection.protectResponse(Self.response, context: server, binding: binding, ownSequence: 0)
        let wire = CoAPMessage(type: .acknowledgement, code: sealed.code, messageID: 0x5d1f, token: try CoAPToken(h("00003974")), options: sealed.options, payload: sealed.payload)
        #expect(hexString(try wire.encoded()) == "64445d1f00003974920100ff4d4c13669384b67354b2b6175ff4b8658c666a6cf88e")
        let client = try OSCORESecurityContext(masterSecret: Self.secret, masterSalt: Self.salt, senderID: [], recipientID: [1])
        let (opened, piv) = try OSCOREProtection.unprotectResponse(wire, context: client, binding: binding)
        #expect(opened.payload == Self.response.payload && piv == 0)
    }
}
