import Foundation
import Testing

@testable import PierStack

/// Hostile files: huge, deeply nested, alias bombs. Each is refused with an error, never a crash.
@Suite struct LimitsTests {
    func refusal(_ yaml: String) -> StackError? {
        do {
            _ = try ComposeFile.parse(yaml: yaml, directory: "/")
            return nil
        } catch {
            return error
        }
    }

    @Test func hugeFileIsRefusedBeforeParsing() {
        let yaml = "services:\n  web:\n    image: a\n" + "# " + String(repeating: "x", count: 2 << 20) + "\n"
        guard case .tooLarge(let m)? = refusal(yaml) else {
            Issue.record("a 2 MiB file was not refused as too large")
            return
        }
        #expect(m.contains("limit is 1048576 bytes"))
    }

    @Test func deepFlowNestingIsRefused() {
        // libyaml stops at 1000 levels; our own limit at 32.
        for depth in [40, 999, 5000, 200_000] {
            let yaml = "services:\n  web:\n    image: a\n    x-deep: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
            let error = refusal(yaml)
            switch error {
            case .tooLarge?, .malformed?: break
            default: Issue.record("nesting \(depth) deep gave \(String(describing: error))")
            }
        }
    }

    @Test func deepBlockNestingIsRefused() {
        var yaml = "services:\n  web:\n    image: a\n    x-deep:\n"
        for level in 0..<60 { yaml += String(repeating: " ", count: 6 + level) + "k\(level):\n" }
        guard case .tooLarge(let m)? = refusal(yaml) else {
            Issue.record("block nesting 60 deep was not refused")
            return
        }
        #expect(m.contains("more than 32 levels deep"))
    }

    @Test func aliasBombIsRefused() {
        var yaml = "x-a0: &a0 [\"\(String(repeating: "z", count: 100))\", \"z\", \"z\", \"z\", \"z\", \"z\", \"z\", \"z\", \"z\", \"z\"]\n"
        for i in 1..<9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            yaml += "x-a\(i): &a\(i) [\(refs)]\n"
        }
        yaml += "services:\n  web:\n    image: a\n"
        guard case .tooLarge(let m)? = refusal(yaml) else {
            Issue.record("alias bomb was not refused")
            return
        }
        #expect(m.contains("through YAML aliases"))
    }

    @Test func manyServicesWithinLimitsParse() throws {
        var yaml = "services:\n"
        for i in 0..<500 { yaml += "  s\(i):\n    image: app:\(i)\n    deploy: {replicas: \(i % 5)}\n" }
        let file = try ComposeFile.parse(yaml: yaml, directory: "/")
        #expect(file.services.count == 500)
        #expect(file.services.first { $0.name == "s7" }?.mode == .replicated(2))
    }

    @Test func binaryGarbageIsRefused() {
        var bytes = [UInt8](repeating: 0, count: 4096)
        for i in bytes.indices { bytes[i] = UInt8((i * 7919 + 13) % 256) }
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(refusal(text) != nil)
    }
}
