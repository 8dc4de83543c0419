import Testing

@testable import PierCoAP

/// SplitMix64: a seeded generator, so a failing input can be reproduced from the seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Codec property tests over random and mutated datagrams")
struct CoAPCodecFuzzTests {
    /// Every decoded datagram must re-encode to exactly the same bytes (the wire form is canonical:
    /// one encoding per delta/length, options ascending) and decode again to the same value.
    static func check(_ bytes: [UInt8]) -> (decoded: Bool, ok: Bool) {
        guard let msg = try? CoAPMessage(decoding: bytes) else { return (false, true) }
        guard let again = try? msg.encoded() else { return (true, false) }
        guard again == bytes, let redecoded = try? CoAPMessage(decoding: again) else { return (true, false) }
        return (true, redecoded == msg)
    }

    @Test("200k random byte strings of length 0-64 never crash and round-trip when valid")
    func randomBytes() {
        var rng = SeededGenerator(seed: 0xC0A9)
        var decoded = 0
        var failures: [[UInt8]] = []
        for _ in 0..<200_000 {
            let length = Int.random(in: 0...64, using: &rng)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias a quarter of inputs toward a valid header so the option parser gets exercised.
            if length >= 4, Bool.random(using: &rng), Bool.random(using: &rng) {
                bytes[0] = 0x40 | (bytes[0] & 0x37)
            }
            let r = Self.check(bytes)
            if r.decoded { decoded += 1 }
            if !r.ok { failures.append(bytes) }
        }
        #expect(failures.isEmpty, "first failing input: \(failures.first ?? [])")
        #expect(decoded > 1000, "too few valid inputs (\(decoded)) to exercise the round-trip")
    }

    @Test("mutations of valid messages never crash and round-trip when valid")
    func mutations() throws {
        var rng = SeededGenerator(seed: 7252)
        let seeds: [CoAPMessage] = [
            CoAPMessage(
                type: .confirmable, code: .get, messageID: 1, token: try CoAPToken([1, 2, 3]),
                options: [
                    CoAPOption(.uriPath, string: "sensors"), CoAPOption(.uriPath, string: "temp"),
                    CoAPOption(.observe, uint: 0), CoAPOption(.accept, uint: 50),
                ]),
            CoAPMessage(
                type: .acknowledgement, code: .content, messageID: 0xFFFF, token: CoAPToken(99),
                options: [
                    CoAPOption(.block2, uint: 0x1E), CoAPOption(.size2, uint: 70000),
                    CoAPOption(CoAPOptionNumber(3000), value: Array(repeating: 7, count: 280)),
                ],
                payload: Array(repeating: 0x41, count: 40)),
            CoAPMessage(type: .nonConfirmable, code: .post, messageID: 3, options: [CoAPOption(.size1, uint: 2)], payload: [1, 2]),
        ]
        let encodedSeeds = try seeds.map { try $0.encoded() }
        var failures: [[UInt8]] = []
        var decoded = 0
        for _ in 0..<50_000 {
            var bytes = encodedSeeds[Int.random(in: 0..<encodedSeeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where !bytes.isEmpty:  // flip a bit
                    let i = Int.random(in: 0..<bytes.count, using: &rng)
                    bytes[i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                case 1 where !bytes.isEmpty:  // truncate
                    bytes.removeLast(Int.random(in: 1...min(8, bytes.count), using: &rng))
                case 2:  // insert a byte
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
                default:  // overwrite with an interesting value
                    if !bytes.isEmpty {
                        bytes[Int.random(in: 0..<bytes.count, using: &rng)] =
                            [0x00, 0x0D, 0x0E, 0x0F, 0xD0, 0xE0, 0xF0, 0xFF].randomElement(using: &rng) ?? 0
                    }
                }
            }
            let r = Self.check(bytes)
            if r.decoded { decoded += 1 }
            if !r.ok { failures.append(bytes) }
        }
        #expect(failures.isEmpty, "first failing input: \(failures.first ?? [])")
        #expect(decoded > 1000)
    }
}
