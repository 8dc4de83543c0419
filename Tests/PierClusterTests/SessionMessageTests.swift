import Foundation
import Testing
@testable import PierCluster

/// The session's JSON: every message survives a round trip, and unknown types are refused by name.
@Suite struct SessionMessageTests {
    /// Through the coding both ends of a real session use.
    static func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try SessionCoding.decoder().decode(T.self, from: SessionCoding.encoder().encode(value))
    }

    @Test func logMessagesRoundTrip() throws {
        let request = ManagerMessage.logsRequest(LogsRequest(requestID: "r1", taskIDs: ["t1", "t2"], tail: 5, follow: true, timestamps: false))
        #expect(try Self.roundTrip(request) == request)
        let cancel = ManagerMessage.logsCancel("r1")
        #expect(try Self.roundTrip(cancel) == cancel)
        let bytes = Data([0x68, 0x69, 0x0a, 0xff, 0x00])  // not UTF-8: carried as base64
        let chunk = AgentMessage.logs(LogChunk(requestID: "r1", taskID: "t1", records: [.init(stream: "stderr", data: bytes)], end: true))
        #expect(try Self.roundTrip(chunk) == chunk)
        let text = String(decoding: try SessionCoding.encoder().encode(cancel), as: UTF8.self)
        #expect(text.contains("\"type\":\"logsCancel\"") && text.contains("\"requestID\":\"r1\""))
    }

    @Test func unknownTypesAreRefusedByName() {
        #expect { try SessionCoding.decoder().decode(ManagerMessage.self, from: Data(#"{"type":"reboot"}"#.utf8)) } throws: { error in
            "\(error)".contains("reboot")
        }
        // A known type without its payload names the missing key.
        #expect { try SessionCoding.decoder().decode(AgentMessage.self, from: Data(#"{"type":"logs"}"#.utf8)) } throws: { error in
            guard case DecodingError.keyNotFound(let key, _) = error else { return false }
            return key.stringValue == "logs"
        }
        // Positive control: the same type with its payload decodes.
        #expect(
            (try? SessionCoding.decoder().decode(AgentMessage.self, from: Data(#"{"type":"logs","logs":{"requestID":"r","taskID":"t","records":[],"end":true}}"#.utf8)))
                == .logs(LogChunk(requestID: "r", taskID: "t", records: [], end: true)))
    }

    /// Reports carry their time as ISO 8601 on the wire, to the second, as the manager reads it.
    @Test func reportTimestampsAreISO8601() throws {
        let at = Date(timeIntervalSince1970: 1_800_000_000.75)
        let status = AgentMessage.status([TaskReport(taskID: "t1", state: .running, containerID: "c1", timestamp: at)])
        let text = String(decoding: try SessionCoding.encoder().encode(status), as: UTF8.self)
        #expect(text.contains("\"timestamp\":\"2027-01-15T08:00:00Z\""), "\(text)")
        guard case .status(let reports) = try Self.roundTrip(status) else {
            Issue.record("status did not round-trip as status")
            return
        }
        #expect(reports.map(\.taskID) == ["t1"] && reports.first?.state == .running)
        #expect(reports.first?.timestamp == Date(timeIntervalSince1970: 1_800_000_000))
    }

    /// Download-then-switch on the wire: `stage` with the assignments (absent from an older
    /// manager's, read as none) and the agent's `staged` answer.
    @Test func stagingRoundTrips() throws {
        let assignments = ManagerMessage.assignments(Assignments(generation: 3, tasks: [], stage: ["web@sha256:" + String(repeating: "a", count: 64)]))
        #expect(try Self.roundTrip(assignments) == assignments)
        let old = try JSONDecoder().decode(ManagerMessage.self, from: Data(#"{"type":"assignments","assignments":{"generation":1,"tasks":[]}}"#.utf8))
        #expect(old == .assignments(Assignments(generation: 1, tasks: [])))
        let staged = AgentMessage.staged(["web@sha256:" + String(repeating: "a", count: 64)])
        #expect(try Self.roundTrip(staged) == staged)
    }
}
