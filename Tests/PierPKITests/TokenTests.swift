import Testing
@testable import PierPKI

@Suite struct JoinTokenTests {
    let fingerprint = String(repeating: "ab", count: 32)

    @Test func roundTripsAndHasTheDocumentedShape() throws {
        let token = try JoinToken.generate(caFingerprint: fingerprint)
        let parts = token.text.split(separator: "-")
        #expect(parts.count == 4)
        #expect(parts[0] == "PIERTKN")
        #expect(parts[1] == "1")
        #expect(parts[2].count == 50)
        #expect(parts[3].count == 25)
        #expect(parts[3].allSatisfy { $0.isLowercase || $0.isNumber })
        let parsed = try JoinToken.parse(token.text)
        #expect(parsed == token)
        #expect(parsed.caFingerprint == fingerprint)
        #expect(parsed.pins(caFingerprint: fingerprint))
        #expect(!token.description.contains(token.secret))
    }

    @Test func digestEncodingCoversTheExtremes() throws {
        let max = try JoinToken(caFingerprint: String(repeating: "ff", count: 32), secret: String(repeating: "a", count: 25))
        let zero = try JoinToken(caFingerprint: String(repeating: "00", count: 32), secret: String(repeating: "a", count: 25))
        #expect(try JoinToken.parse(max.text) == max)
        #expect(try JoinToken.parse(zero.text) == zero)
        #expect(zero.text == "PIERTKN-1-" + String(repeating: "0", count: 50) + "-" + String(repeating: "a", count: 25))
    }

    @Test func generatedSecretsDiffer() throws {
        let a = try JoinToken.generate(caFingerprint: fingerprint)
        let b = try JoinToken.generate(caFingerprint: fingerprint)
        #expect(a.secret != b.secret)
        #expect(!a.secretMatches(b))
        #expect(a.secretMatches(try JoinToken.parse(a.text)))
    }

    @Test(arguments: [
        ("SWMTKN-1-\(String(repeating: "0", count: 50))-\(String(repeating: "a", count: 25))", "start with"),
        ("PIERTKN-2-\(String(repeating: "0", count: 50))-\(String(repeating: "a", count: 25))", "version \"2\""),
        ("PIERTKN-1-\(String(repeating: "0", count: 49))-\(String(repeating: "a", count: 25))", "49 characters"),
        ("PIERTKN-1-\(String(repeating: "z", count: 50))-\(String(repeating: "a", count: 25))", "not a base-36 SHA-256"),
        ("PIERTKN-1-\(String(repeating: "0", count: 49))!-\(String(repeating: "a", count: 25))", "not a base-36 SHA-256"),
        ("PIERTKN-1-\(String(repeating: "0", count: 50))-\(String(repeating: "A", count: 25))", "secret"),
        ("PIERTKN-1-\(String(repeating: "0", count: 50))-short", "secret"),
        ("PIERTKN-1-\(String(repeating: "0", count: 50))", "four parts"),
        ("", "four parts"),
    ])
    func parseErrorsSayWhatIsWrong(text: String, expected: String) {
        do {
            _ = try JoinToken.parse(text)
            Issue.record("parsed \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func surroundingWhitespaceIsIgnored() throws {
        let token = try JoinToken.generate(caFingerprint: fingerprint)
        #expect(try JoinToken.parse("  \(token.text)\n") == token)
    }
}
