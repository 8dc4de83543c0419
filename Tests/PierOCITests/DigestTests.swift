import Foundation
import Testing
@testable import PierOCI

@Suite("Digest")
struct DigestTests {
    static let emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    @Test("sha256 of known inputs")
    func knownVectors() {
        #expect(Digest.sha256(of: Data()).encoded == Self.emptyHex)
        #expect(Digest.sha256(of: Data("abc".utf8)).description
                == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("the incremental hasher equals the one-shot hash and counts bytes")
    func incremental() {
        let data = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        var hasher = DigestHasher()
        var offset = 0
        for size in [1, 7, 4096, 65_536, 100_000] where offset < data.count {
            let end = min(data.count, offset + size)
            hasher.update(data[offset..<end])
            offset = end
        }
        hasher.update(data[offset...])
        #expect(hasher.finalize() == Digest.sha256(of: data))
        #expect(hasher.count == Int64(data.count))
    }

    @Test("valid digests parse and round-trip through JSON")
    func parses() throws {
        let d = try Digest(parsing: "sha256:" + Self.emptyHex)
        #expect(d.algorithm == "sha256" && d.encoded == Self.emptyHex)
        let json = try JSONEncoder().encode([d])
        #expect(try JSONDecoder().decode([Digest].self, from: json) == [d])
    }

    static let invalid: [(String, String)] = [
        ("", "no algorithm"),
        (emptyHex, "no algorithm"),
        ("md5:d41d8cd98f00b204e9800998ecf8427e", "only sha256"),
        ("sha512:" + emptyHex + emptyHex, "only sha256"),
        ("sha256:" + emptyHex.uppercased(), "64 lowercase hex"),
        ("sha256:" + String(emptyHex.dropLast()), "64 lowercase hex"),
        ("sha256:" + emptyHex + "0", "64 lowercase hex"),
        ("sha256:" + String(emptyHex.dropLast()) + "g", "64 lowercase hex"),
        ("sha256:", "64 lowercase hex"),
    ]

    @Test("anything but sha256 with 64 lowercase hex is refused with a clear error", arguments: invalid)
    func refuses(_ input: String, _ message: String) {
        #expect {
            try Digest(parsing: input)
        } throws: { error in
            (error as? DigestError)?.description.contains(message) == true
        }
    }

    @Test("decoding JSON with a bad digest fails")
    func decodingFails() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([Digest].self, from: Data("[\"sha256:abc\"]".utf8))
        }
    }
}
