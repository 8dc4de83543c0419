import Testing

@testable import PierCoAP

@Suite("RFC 7959 block-wise transfer")
struct BlockwiseTests {
    @Test("Block option values encode NUM, M and SZX in 0-3 bytes")
    func blockOption() throws {
        let b = try BlockOption(number: 0, more: false, szx: 0)
        #expect(b.option(.block1).value == [])
        let c = try BlockOption(number: 5, more: true, size: 64)
        #expect(c.value == 5 << 4 | 8 | 2)
        #expect(c.option(.block2).value == [0x5A])
        #expect(c.offset == 320)
        let big = try BlockOption(number: BlockOption.maxNumber, more: true, szx: 6)
        #expect(big.option(.block2).value.count == 3)
        #expect(try BlockOption(big.option(.block2)) == big)
        #expect(try BlockOption(number: 20, more: false, szx: 4).option(.block2).value.count == 2)
    }

    @Test("SZX 7, oversize values and bad sizes are errors")
    func blockErrors() {
        #expect(throws: BlockOptionError.reservedSZX(7)) { try BlockOption(CoAPOption(.block1, value: [0x07])) }
        #expect(throws: BlockOptionError.valueTooLong(4)) { try BlockOption(CoAPOption(.block1, value: [0, 0, 0, 1])) }
        #expect(throws: BlockOptionError.invalidSize(48)) { try BlockOption(number: 0, more: false, size: 48) }
        #expect(throws: BlockOptionError.invalidSize(2048)) { try BlockOption(number: 0, more: false, size: 2048) }
        #expect(BlockOption.szx(forSize: 16) == 0 && BlockOption.szx(forSize: 1024) == 6)
    }

    /// The blocks a client sends for `body` at `size`, as PUT /upload requests.
    static func blocks(_ body: [UInt8], size: Int, path: String = "upload", startMID: UInt16 = 1) throws -> [CoAPMessage] {
        var out: [CoAPMessage] = []
        var offset = 0
        repeat {
            let end = min(offset + size, body.count)
            let block = try BlockOption(number: UInt32(offset / size), more: end < body.count, size: size)
            out.append(
                CoAPMessage(
                    type: .confirmable, code: .put, messageID: startMID + UInt16(out.count),
                    token: CoAPToken(UInt64(out.count)),  // a new token per block: reassembly must not care
                    options: [CoAPOption(.uriPath, string: path), block.option(.block1)],
                    payload: Array(body[offset..<end])))
            offset = end
        } while offset < body.count
        return out
    }

    @Test("2000 integers in 16-byte blocks reassemble with 2.31 Continue answers")
    func reassembly() throws {
        let body = Array((0..<2000).map(String.init).joined(separator: ",").utf8)
        var r = Block1Reassembler<String>()
        let blocks = try Self.blocks(body, size: 16)
        for (i, msg) in blocks.enumerated() {
            let outcome = r.receive(msg, from: "a", now: Double(i))
            if i < blocks.count - 1 {
                let expected = try BlockOption(number: UInt32(i), more: true, size: 16)
                #expect(outcome == .respond(CoAPResponse(code: .continue, options: [expected.option(.block1)])))
            } else {
                let last = try BlockOption(number: UInt32(i), more: false, size: 16)
                #expect(outcome == .complete(body: body, block1: last.option(.block1)))
            }
        }
        #expect(r.activeTransfers == 0)
    }

    @Test("a request without Block1 passes through; a single final block completes at once")
    func passThrough() throws {
        var r = Block1Reassembler<String>()
        let plain = CoAPMessage(type: .confirmable, code: .put, messageID: 1, payload: [1])
        #expect(r.receive(plain, from: "a", now: 0) == .passThrough)
        let single = try Self.blocks([1, 2, 3], size: 16)
        #expect(single.count == 1)
        #expect(
            r.receive(single[0], from: "a", now: 0)
                == .complete(body: [1, 2, 3], block1: try BlockOption(number: 0, more: false, szx: 0).option(.block1)))
        #expect(r.activeTransfers == 0)
    }

    @Test("an out-of-order block is answered 4.08 and the transfer is dropped")
    func outOfOrder() throws {
        var r = Block1Reassembler<String>()
        let blocks = try Self.blocks(Array(repeating: 7, count: 100), size: 16)
        _ = r.receive(blocks[0], from: "a", now: 0)
        guard case .respond(let resp) = r.receive(blocks[2], from: "a", now: 1) else {
            Issue.record("expected a response")
            return
        }
        #expect(resp.code == .requestEntityIncomplete)
        #expect(r.activeTransfers == 0)
        // A block > 0 with no transfer at all is also incomplete.
        guard case .respond(let resp2) = r.receive(blocks[1], from: "b", now: 1) else {
            Issue.record("expected a response")
            return
        }
        #expect(resp2.code == .requestEntityIncomplete)
    }

    @Test("bodies beyond the limit get 4.13 with Size1, by announced Size1 or by accumulation")
    func tooLarge() throws {
        var config = Block1Reassembler<String>.Configuration()
        config.maxBodySize = 64
        var r = Block1Reassembler<String>(configuration: config)
        var first = try Self.blocks(Array(repeating: 1, count: 200), size: 32)[0]
        first.options.append(CoAPOption(.size1, uint: 200))
        #expect(
            r.receive(first, from: "a", now: 0)
                == .respond(
                    CoAPResponse(
                        code: .requestEntityTooLarge, diagnostic: "request body exceeds 64 bytes", options: [CoAPOption(.size1, uint: 64)]))
        )

        let blocks = try Self.blocks(Array(repeating: 1, count: 200), size: 32)
        #expect(r.receive(blocks[0], from: "a", now: 0) != .passThrough)
        #expect(
            r.receive(blocks[1], from: "a", now: 0)
                == .respond(CoAPResponse(code: .continue, options: [try BlockOption(number: 1, more: true, size: 32).option(.block1)])))
        guard case .respond(let resp) = r.receive(blocks[2], from: "a", now: 0) else {
            Issue.record("expected 4.13")
            return
        }
        #expect(resp.code == .requestEntityTooLarge)
        #expect(resp.uint(.size1) == 64)
        #expect(r.activeTransfers == 0)
    }

    @Test("per-peer and global caps refuse new transfers with 5.03; other peers keep working")
    func caps() throws {
        var config = Block1Reassembler<String>.Configuration()
        config.maxTransfersPerPeer = 2
        config.maxTransfers = 3
        var r = Block1Reassembler<String>(configuration: config)
        let body = Array(repeating: UInt8(1), count: 64)
        for path in ["p1", "p2"] {
            #expect(r.receive(try Self.blocks(body, size: 16, path: path)[0], from: "flood", now: 0) != .passThrough)
        }
        guard case .respond(let refused) = r.receive(try Self.blocks(body, size: 16, path: "p3")[0], from: "flood", now: 0) else {
            Issue.record("expected 5.03")
            return
        }
        #expect(refused.code == .serviceUnavailable)
        #expect(r.activeTransfers == 2)
        // Another peer gets the one remaining global slot, then the table is full.
        let ok = try #require(r.receive(try Self.blocks(body, size: 16)[0], from: "good", now: 0).response)
        #expect(ok.code == .continue)
        let full = try #require(r.receive(try Self.blocks(body, size: 16)[0], from: "third", now: 0).response)
        #expect(full.code == .serviceUnavailable)
        // Restarting an existing transfer at block 0 is never refused.
        let restart = try #require(r.receive(try Self.blocks(body, size: 16, path: "p1")[0], from: "flood", now: 0).response)
        #expect(restart.code == .continue)
    }

    @Test("a transfer that never completes is dropped after the timeout")
    func expiry() throws {
        var config = Block1Reassembler<String>.Configuration()
        config.transferTimeout = 30
        var r = Block1Reassembler<String>(configuration: config)
        let blocks = try Self.blocks(Array(repeating: 1, count: 64), size: 16)
        _ = r.receive(blocks[0], from: "a", now: 100)
        #expect(r.nextExpiry == 130)
        r.expire(now: 129)
        #expect(r.activeTransfers == 1)
        r.expire(now: 130)
        #expect(r.activeTransfers == 0)
        let late = try #require(r.receive(blocks[1], from: "a", now: 131).response)
        #expect(late.code == .requestEntityIncomplete)
    }

    @Test("the server can ask for smaller blocks on block 0 and the client continues by offset")
    func smallerBlocks() throws {
        var config = Block1Reassembler<String>.Configuration()
        config.maxSZX = 1  // 32 bytes
        var r = Block1Reassembler<String>(configuration: config)
        let body = (0..<200).map { UInt8($0) }
        let first = try Self.blocks(body, size: 128)[0]
        #expect(
            r.receive(first, from: "a", now: 0)
                == .respond(CoAPResponse(code: .continue, options: [try BlockOption(number: 0, more: true, size: 32).option(.block1)])))
        // Client continues with 32-byte blocks at offset 128: NUM 4.
        let rest = try Self.blocks(body, size: 32).dropFirst(4)
        var last: Block1Reassembler<String>.Outcome = .passThrough
        for m in rest { last = r.receive(m, from: "a", now: 0) }
        guard case .complete(let got, _) = last else {
            Issue.record("expected completion, got \(last)")
            return
        }
        #expect(got == body)
    }

    @Test("a block with M=1 must be exactly its size")
    func wrongBlockPayload() throws {
        var r = Block1Reassembler<String>()
        var m = try Self.blocks(Array(repeating: 1, count: 64), size: 16)[0]
        m.payload.removeLast()
        let resp = try #require(r.receive(m, from: "a", now: 0).response)
        #expect(resp.code == .badRequest)
    }

    @Test("Block2 slices a body into the requested blocks with Size2 on the first")
    func block2() throws {
        let body = (0..<100).map { UInt8($0) }
        let response = CoAPResponse(code: .content, options: [CoAPOption(.contentFormat, uint: 42)], payload: body)
        let slicer = Block2Slicer(preferredSZX: 6)
        #expect(slicer.slice(response, requested: nil) == response)

        var got: [UInt8] = []
        var num: UInt32 = 0
        while true {
            let part = slicer.slice(response, requested: try BlockOption(number: num, more: false, size: 32))
            let b = try BlockOption(#require(part.options.first { $0.number == .block2 }))
            #expect(b.number == num && b.size == 32)
            #expect(part.uint(.size2) == (num == 0 ? 100 : nil))
            #expect(part.uint(.contentFormat) == 42)
            got += part.payload
            if !b.more { break }
            num += 1
        }
        #expect(got == body)
        #expect(num == 3)

        // No Block2 requested but the body exceeds the preferred size: block 0 at that size.
        let small = Block2Slicer(preferredSZX: 0)
        let first = small.slice(response, requested: nil)
        #expect(first.payload == Array(body[0..<16]))
        #expect(first.options.contains(try BlockOption(number: 0, more: true, size: 16).option(.block2)))
        // A client asking for 1024-byte blocks from a 16-byte server gets 16.
        let capped = small.slice(response, requested: try BlockOption(number: 0, more: false, size: 1024))
        #expect(capped.payload.count == 16)
        // Past the end.
        #expect(slicer.slice(response, requested: try BlockOption(number: 9, more: false, size: 16)).code == .badOption)
    }
}

extension Block1Reassembler.Outcome {
    /// The response when the outcome is `.respond`, so a test can `#require` it and fail on any other outcome.
    fileprivate var response: CoAPResponse? {
        if case .respond(let response) = self { return response }
        return nil
    }
}
