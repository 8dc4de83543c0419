import Foundation
import Testing

@testable import PierRuntime

@Suite("Exit record")
struct ExitRecordTests {
    @Test("the shim's JSON decodes, nanoseconds included")
    func decode() throws {
        let json = #"{"exitCode": 137, "signal": 9, "finishedAt": "2026-01-02T15:04:05.123456789Z", "error": null}"#
        let record = try JSONDecoder().decode(ExitRecord.self, from: Data(json.utf8))
        #expect(record.exitCode == 137 && record.signal == 9 && record.error == nil)
        let expected = Date(timeIntervalSince1970: 1_767_366_245.123456789)
        #expect(abs(record.finishedAt.timeIntervalSince(expected)) < 0.000_01)
        let failed = #"{"exitCode": 127, "signal": null, "finishedAt": "2026-01-02T15:04:05Z", "error": "exec: \"x\": not found"}"#
        let f = try JSONDecoder().decode(ExitRecord.self, from: Data(failed.utf8))
        #expect(f.error == "exec: \"x\": not found" && f.signal == nil)
    }

    @Test("round trip and bad times")
    func roundTrip() throws {
        let record = ExitRecord(exitCode: 3, signal: nil, finishedAt: Date(timeIntervalSince1970: 1_700_000_000.5), error: "e")
        let decoded = try JSONDecoder().decode(ExitRecord.self, from: JSONEncoder().encode(record))
        #expect(decoded.exitCode == 3 && decoded.error == "e")
        #expect(abs(decoded.finishedAt.timeIntervalSince(record.finishedAt)) < 0.000_01)
        for bad in ["yesterday", "2026-01-02T15:04:05", "2026-01-02T15:04:05.Z", "2026-01-02T15:04:05.12a Z"] {
            #expect(ExitRecord.parseTimestamp(bad) == nil, "\(bad)")
        }
        #expect(ExitRecord.read(from: URL(fileURLWithPath: "/nonexistent/exit.json")) == nil)
    }
}
