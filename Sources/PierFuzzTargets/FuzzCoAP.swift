import PierCoAP

/// CoAP targets: the datagram codec, block options and link format, and Block1 reassembly.
enum FuzzCoAP {
    /// A datagram that decodes must re-encode to the same bytes (the wire form is canonical:
    /// minimal deltas and lengths, options ascending) and decode again to an equal message.
    static func message(_ bytes: [UInt8]) -> String? {
        guard let message = try? CoAPMessage(decoding: bytes) else { return nil }
        let again: [UInt8]
        do { again = try message.encoded() } catch { return "a decoded datagram does not encode: \(error)" }
        guard again == bytes else { return "re-encoding changed the datagram: \(bytes) → \(again)" }
        guard (try? CoAPMessage(decoding: again)) == message else { return "the re-encoded datagram decodes to another message" }
        _ = try? message.block1()
        _ = try? message.block2()
        _ = message.uriPath
        _ = message.uriQuery
        _ = message.contentFormat
        _ = message.observe
        _ = message.unrecognisedCriticalOptions()
        _ = message.description
        if let block = try? message.block2() {
            _ = block.offset
            guard (try? BlockOption(block.option(.block2))) == block else { return "block option \(block) does not survive its own encoding" }
        }
        if let text = String(validating: message.payload, as: UTF8.self), let links = try? CoAPLinkFormat.parse(text) {
            _ = CoAPLinkFormat.serialize(links)
            _ = CoAPLinkFormat.filter(links, query: message.uriQuery)
        }
        return nil
    }

    /// The input is a sequence of datagrams, each preceded by one byte: the low bit picks the
    /// peer, the rest is the number of seconds that passed (0…127). Whatever arrives, the
    /// reassembler stays within its limits and a completed body within the maximum size.
    static func blockwise(_ bytes: [UInt8]) -> String? {
        var configuration = Block1Reassembler<Int>.Configuration()
        configuration.maxBodySize = 4096
        configuration.maxTransfersPerPeer = 2
        configuration.maxTransfers = 3
        configuration.transferTimeout = 60
        var reassembler = Block1Reassembler<Int>(configuration: configuration)
        var now = 0.0
        var i = 0
        while i + 2 <= bytes.count {
            let control = bytes[i]
            let length = Int(bytes[i + 1])
            i += 2
            let end = min(bytes.count, i + length)
            let datagram = Array(bytes[i..<end])
            i = end
            now += Double(control >> 1)
            guard let request = try? CoAPMessage(decoding: datagram) else { continue }
            switch reassembler.receive(request, from: Int(control & 1), now: now) {
            case .complete(let body, _):
                if body.count > configuration.maxBodySize { return "a reassembled body of \(body.count) bytes exceeds the maximum" }
            case .passThrough, .respond:
                break
            }
            if reassembler.activeTransfers > configuration.maxTransfers {
                return "\(reassembler.activeTransfers) transfers open; the limit is \(configuration.maxTransfers)"
            }
            if let expiry = reassembler.nextExpiry, expiry <= now {
                return "a transfer that expired at \(expiry) is still open at \(now)"
            }
        }
        return nil
    }
}
