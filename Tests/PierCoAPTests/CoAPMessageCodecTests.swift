import Foundation
import NIOCore
import Testing

@testable import PierCoAP

@Suite("RFC 7252 §3 message codec")
struct CoAPMessageCodecTests {
    @Test("a GET with path segments encodes to the RFC's byte layout")
    func encodeGet() throws {
        let msg = CoAPMessage(
            type: .confirmable, code: .get, messageID: 0x7D34, token: try CoAPToken([0xAB, 0xCD]),
            options: [CoAPOption(.uriPath, string: "temperature")])
        let bytes = try msg.encoded()
        // Ver 1, CON, TKL 2 → 0x42; GET 0x01; MID 0x7D34; token; Uri-Path delta 11 length 11 → 0xBB.
        #expect(bytes == [0x42, 0x01, 0x7D, 0x34, 0xAB, 0xCD, 0xBB] + Array("temperature".utf8))
        #expect(try CoAPMessage(decoding: bytes) == msg)
    }

    @Test("extended delta and length: 13 takes one byte, 14 takes two")
    func extendedEncodings() throws {
        let long = [UInt8](repeating: 0x61, count: 300)
        let msg = CoAPMessage(
            type: .nonConfirmable, code: .post, messageID: 1,
            options: [
                CoAPOption(.size1, uint: 1000), CoAPOption(.uriHost, value: Array(repeating: 0x62, count: 20)),
                CoAPOption(CoAPOptionNumber(2000), value: long),
            ],
            payload: [1, 2, 3])
        let bytes = try msg.encoded()
        // Uri-Host: delta 3, length 20 → 0x3D, 20-13 = 7.
        #expect(Array(bytes[4..<6]) == [0x3D, 7])
        // Size1 (60): delta 57 → 13, 57-13 = 44; length 2 (1000 = 0x03E8).
        let size1At = 6 + 20
        #expect(Array(bytes[size1At..<(size1At + 4)]) == [0xD2, 44, 0x03, 0xE8])
        // Option 2000: delta 1940 → 14, 1940-269 = 0x0687; length 300 → 14, 31 = 0x001F.
        let bigAt = size1At + 4
        #expect(Array(bytes[bigAt..<(bigAt + 5)]) == [0xEE, 0x06, 0x87, 0x00, 0x1F])
        let decoded = try CoAPMessage(decoding: bytes)
        #expect(decoded.options.map(\.number) == [.uriHost, .size1, CoAPOptionNumber(2000)])
        #expect(decoded.uint(.size1) == 1000)
        #expect(decoded.payload == [1, 2, 3])
    }

    @Test("uint options use the minimal length")
    func uintMinimal() {
        #expect(CoAPOption(.contentFormat, uint: 0).value == [])
        #expect(CoAPOption(.contentFormat, uint: 50).value == [50])
        #expect(CoAPOption(.maxAge, uint: 256).value == [1, 0])
        #expect(CoAPOption(.maxAge, uint: 0x0100_0000).value == [1, 0, 0, 0])
        #expect(CoAPOption(.maxAge, value: [0, 0, 7]).uintValue == 7)
        #expect(CoAPOption(.maxAge, value: [1, 2, 3, 4, 5]).uintValue == nil)
    }

    @Test("option number properties follow §5.4.6")
    func optionProperties() {
        #expect(CoAPOptionNumber.uriPath.isCritical && CoAPOptionNumber.uriPath.isUnsafe)
        #expect(CoAPOptionNumber.eTag.isElective && !CoAPOptionNumber.eTag.isUnsafe)
        #expect(CoAPOptionNumber.size1.isNoCacheKey)
        #expect(CoAPOptionNumber.size2.isNoCacheKey)
        #expect(!CoAPOptionNumber.maxAge.isNoCacheKey)
        #expect(CoAPOptionNumber.ifMatch.isCritical && !CoAPOptionNumber.ifMatch.isUnsafe)
        #expect(CoAPOptionNumber(9).isCritical && !CoAPOptionNumber(9).isKnown)
    }

    @Test("repeated options keep their order; unsorted input is sorted stably on the wire")
    func optionOrder() throws {
        var msg = CoAPMessage(type: .confirmable, code: .get, messageID: 9)
        msg.options = [
            CoAPOption(.uriQuery, string: "a=1"), CoAPOption(.uriPath, string: "x"),
            CoAPOption(.uriQuery, string: "b=2"), CoAPOption(.uriPath, string: "y"),
        ]
        let decoded = try CoAPMessage(decoding: msg.encoded())
        #expect(decoded.uriPath == ["x", "y"])
        #expect(decoded.uriQuery == ["a=1", "b=2"])
        #expect(decoded.path == "/x/y")
    }

    @Test("codes print as class.detail")
    func codes() {
        #expect(CoAPCode.content.description == "2.05")
        #expect(CoAPCode.continue.description == "2.31")
        #expect(CoAPCode.requestEntityTooLarge.rawValue == 4 << 5 | 13)
        #expect(CoAPCode.get.isRequest && !CoAPCode.empty.isRequest && CoAPCode.notFound.isResponse)
    }

    @Test("empty message: exactly four bytes")
    func emptyMessage() throws {
        let ping = CoAPMessage.empty(.confirmable, messageID: 0xBEEF)
        #expect(try ping.encoded() == [0x40, 0x00, 0xBE, 0xEF])
        #expect(throws: CoAPDecodingError.nonEmptyEmptyMessage) { try CoAPMessage(decoding: [0x41, 0x00, 0, 1, 7]) }
        var bad = ping
        bad.payload = [1]
        #expect(throws: CoAPEncodingError.nonEmptyEmptyMessage) { try bad.encoded() }
    }

    @Test(
        "malformed datagrams are rejected with the RFC's reason",
        arguments: [
            ([0x40, 0x01, 0x00] as [UInt8], CoAPDecodingError.truncatedHeader(length: 3)),
            ([0x80, 0x01, 0x00, 0x01], .unsupportedVersion(2)),
            ([0x49, 0x01, 0x00, 0x01] + Array(repeating: 0, count: 9), .invalidTokenLength(9)),
            ([0x4F, 0x01, 0x00, 0x01], .invalidTokenLength(15)),
            ([0x44, 0x01, 0x00, 0x01, 1, 2], .truncatedToken(expected: 4, available: 2)),
            ([0x40, 0x01, 0x00, 0x01, 0xF0], .reservedOptionDelta(offset: 4)),
            ([0x40, 0x01, 0x00, 0x01, 0x0F], .reservedOptionLength(offset: 4)),
            ([0x40, 0x01, 0x00, 0x01, 0xFF], .payloadMarkerWithoutPayload),
            ([0x40, 0x01, 0x00, 0x01, 0xB5, 0x61], .truncatedOption(number: 11, needed: 5, available: 1)),
            ([0x40, 0x01, 0x00, 0x01, 0xD0], .truncatedOption(number: 0, needed: 1, available: 0)),
            ([0x40, 0x01, 0x00, 0x01, 0xE0, 0x01], .truncatedOption(number: 0, needed: 2, available: 1)),
            // Two deltas of 65535-ish: 0xE0 0xFE 0xF2 = 65535, then +13.
            ([0x40, 0x01, 0x00, 0x01, 0xE0, 0xFE, 0xF2, 0xD0, 0x00], .optionNumberOverflow(65535 + 13)),
        ])
    func malformed(bytes: [UInt8], error: CoAPDecodingError) {
        #expect(throws: error) { try CoAPMessage(decoding: bytes) }
        #expect(!error.description.isEmpty)
    }

    @Test("option 65535 itself is accepted")
    func maxOptionNumber() throws {
        let msg = try CoAPMessage(decoding: [0x40, 0x01, 0x00, 0x01, 0xE0, 0xFE, 0xF2])
        #expect(msg.options == [CoAPOption(CoAPOptionNumber(65535))])
        #expect(try msg.encoded() == [0x40, 0x01, 0x00, 0x01, 0xE0, 0xFE, 0xF2])
    }

    @Test("ByteBuffer entry points match the byte-array ones and do not consume the buffer")
    func byteBuffer() throws {
        let msg = CoAPMessage(
            type: .acknowledgement, code: .content, messageID: 77, token: CoAPToken(42),
            options: [CoAPOption(.contentFormat, uint: 50)], payload: Array("{}".utf8))
        var buffer = ByteBuffer(bytes: [9, 9])
        buffer.moveReaderIndex(forwardBy: 2)
        try msg.encode(into: &buffer)
        #expect(try CoAPMessage(decoding: buffer) == msg)
        #expect(buffer.readableBytes == (try msg.encoded()).count)
        let header = try #require(CoAPMessage.header(of: buffer))
        #expect(header.type == .acknowledgement && header.messageID == 77 && header.code == .content)
    }

    @Test("tokens longer than eight bytes are refused")
    func tokenLength() {
        #expect(throws: CoAPEncodingError.tokenTooLong(9)) { try CoAPToken(Array(repeating: 1, count: 9)) }
        #expect(CoAPToken(0x0102_0304_0506_0708).bytes == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test("Codable round-trip of a message")
    func codable() throws {
        let msg = CoAPMessage(
            type: .confirmable, code: .put, messageID: 5, token: try CoAPToken([1]),
            options: [CoAPOption(.uriPath, string: "a")], payload: [0xFF])
        let data = try JSONEncoder().encode(msg)
        #expect(try JSONDecoder().decode(CoAPMessage.self, from: data) == msg)
    }
}

@Suite("Codec regressions found by the property tests")
struct CoAPCodecRegressionTests {
    @Test("an empty message with a token length is a format error, not an empty message")
    func emptyWithTokenLength() {
        #expect(throws: CoAPDecodingError.nonEmptyEmptyMessage) { try CoAPMessage(decoding: [67, 0, 0, 1]) }
    }
}
