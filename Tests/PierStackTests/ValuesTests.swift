import Testing

import PierSpec
@testable import PierStack

@Suite struct ValuesTests {
    @Test func durations() {
        let ok: [(String, Double)] = [
            ("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600), ("1.5h", 5400), ("0", 0), ("0s", 0),
            ("250us", 0.00025), ("2h45m", 9900), ("100ns", 1e-7),
        ]
        for (text, seconds) in ok {
            let parsed = GoDuration.seconds(text)
            #expect(parsed.map { abs($0 - seconds) < 1e-12 } == true, "\(text)")
        }
        for bad in ["", "10", "1x", "s", "1.2.3s", "1m 30s", ".s", "10S", "1e400s", String(repeating: "9", count: 400) + "h"] {
            #expect(GoDuration.seconds(bad) == nil, "\(bad)")
        }
    }

    @Test func byteSizes() {
        let ok: [(String, Int64)] = [
            ("64M", 64 << 20), ("1g", 1 << 30), ("512k", 512 << 10), ("1048576", 1_048_576), ("1.5GB", 3 << 29),
            ("100MiB", 100 << 20), ("2 m", 2 << 20), ("512b", 512), ("1t", 1 << 40),
        ]
        for (text, bytes) in ok { #expect(MemorySize.parse(text) == bytes, "\(text)") }
        for bad in ["", "m", "64x", "1.2.3m", "-1m", "1i", "1e9", "99999999999p"] { #expect(MemorySize.parse(bad) == nil, "\(bad)") }
        // What compose writes into a task's container, read back by the same parser.
        #expect(MemorySize(bytes: 64 << 20).flag == "64m")
        #expect(MemorySize(bytes: 2 << 30).flag == "2g")
        #expect(MemorySize(bytes: 1536 << 10).flag == "1536k")
        #expect(MemorySize(bytes: 1000).flag == "1000")
        for bytes: Int64 in [64 << 20, 2 << 30, 1536 << 10, 1000] {
            #expect(MemorySize.parse(MemorySize(bytes: bytes).flag) == bytes)
            #expect(MemorySize.parse(MemorySize(bytes: bytes).description) == bytes)
        }
    }

    @Test func shellWords() throws {
        #expect(try ShellWords.split("  a  b\tc \n") == ["a", "b", "c"])
        #expect(try ShellWords.split(#"'single $x \n' "double \"q\" \$x" mixed'a'"b"c"#) == [#"single $x \n"#, #"double "q" $x"#, "mixedabc"])
        #expect(try ShellWords.split(#"a\ b \'c"#) == ["a b", "'c"])
        #expect(try ShellWords.split("") == [])
        #expect(try ShellWords.split("'' \"\"") == ["", ""])
        #expect(throws: ShellWords.Failure.self) { try ShellWords.split("'open") }
        #expect(throws: ShellWords.Failure.self) { try ShellWords.split("\"open") }
        #expect(throws: ShellWords.Failure.self) { try ShellWords.split("trailing\\") }
    }
}
