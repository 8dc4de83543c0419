import Testing

@testable import PierCoAP

/// Datagrams captured from libcoap 4.3.1 (`libcoap3-bin`: coap-client-notls and coap-server-notls)
/// on a UDP socket. They pin the codec to what a real peer writes and reads; the live interop tests
/// belong in the integration target.
@Suite("Byte vectors captured from libcoap")
struct LibcoapVectorTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }

    @Test("coap-client-notls -m put -b 16 -f nums.txt coap://127.0.0.1:56830/compute/average: first Block1 block")
    func block1Put() throws {
        let raw = Self.bytes(
            "410397760172ddfe47636f6d707574650761766572616765d10308d2140124d4dba762829bff312c322c332c342c352c362c372c382c")
        let m = try CoAPMessage(decoding: raw)
        #expect(m.type == .confirmable && m.code == .put && m.messageID == 0x9776 && m.token.bytes == [0x01])
        #expect(m.uint(.uriPort) == 56830)
        #expect(m.uriPath == ["compute", "average"])
        #expect(try m.block1() == BlockOption(number: 0, more: true, size: 16))
        #expect(m.uint(.size1) == 292)
        // Request-Tag (RFC 9175, option 292): elective, so a server that does not know it still serves the request.
        #expect(m.option(CoAPOptionNumber(292))?.value.count == 4)
        #expect(m.unrecognisedCriticalOptions().isEmpty)
        #expect(m.payload == Array("1,2,3,4,5,6,7,8,".utf8))
        #expect(try m.encoded() == raw)

        var r = Block1Reassembler<String>()
        let echoed = try #require(m.option(.block1))
        #expect(r.receive(m, from: "libcoap", now: 0) == .respond(CoAPResponse(code: .continue, options: [echoed])))
    }

    @Test("coap-client-notls -m get -s 10 -T cafe: an observe registration with a query")
    func observeGet() throws {
        let raw = Self.bytes("4401fc5d636166666012ddfe4673656e736f720474656d7046756e69743d63")
        let m = try CoAPMessage(decoding: raw)
        #expect(m.token.bytes == [0x63, 0x61, 0x66, 0x66])  // libcoap counts tokens up from -T: cafe + 1
        #expect(m.observe == 0)
        #expect(m.path == "/sensor/temp" && m.uriQuery == ["unit=c"])
        #expect(try m.encoded() == raw)
        var registry = ObserveRegistry<String>()
        #expect(registry.receive(m, from: "libcoap", now: 0) == .registered(sequence: 0))
    }

    @Test("coap-client-notls -N: a NON discovery request with a prefix filter")
    func discoveryRequest() throws {
        let raw = Self.bytes("510100340172ddfe4b2e77656c6c2d6b6e6f776e04636f72654872743d74656d702a")
        let m = try CoAPMessage(decoding: raw)
        #expect(m.type == .nonConfirmable && m.path == "/.well-known/core" && m.uriQuery == ["rt=temp*"])
        #expect(try m.encoded() == raw)
    }

    @Test("coap-server-notls: its /.well-known/core answer decodes and parses")
    func discoveryResponse() throws {
        let raw = Self.bytes(
            "6145000142c128ff3c2f3e3b7469746c653d2247656e6572616c20496e666f223b63743d302c3c2f74696d653e3b69663d22636c6f636b"
                + "223b72743d227469636b73223b7469746c653d22496e7465726e616c20436c6f636b223b63743d303b6f62732c3c2f6173796e633e3b"
                + "63743d302c3c2f6578616d706c655f646174613e3b7469746c653d224578616d706c652044617461223b63743d303b6f6273")
        let m = try CoAPMessage(decoding: raw)
        #expect(m.type == .acknowledgement && m.code == .content && m.contentFormat == CoAPContentFormat.linkFormat)
        let links = try CoAPLinkFormat.parse(String(decoding: m.payload, as: UTF8.self))
        #expect(links.map(\.target) == ["/", "/time", "/async", "/example_data"])
        #expect(links[1].values("rt") == ["ticks"] && links[1].has("obs"))
        #expect(CoAPLinkFormat.filter(links, query: ["rt=tick*"]).map(\.target) == ["/time"])
        #expect(try m.encoded() == raw)
    }

    @Test("coap-server-notls: an observe notification with Observe and Max-Age")
    func notification() throws {
        let raw = Self.bytes("614500024361028101ff4e6f762032332031393a31343a3232")
        let m = try CoAPMessage(decoding: raw)
        #expect(m.observe == 2 && m.uint(.maxAge) == 1)
        #expect(String(decoding: m.payload, as: UTF8.self) == "Nov 23 19:14:22")
        #expect(try m.encoded() == raw)
    }
}
