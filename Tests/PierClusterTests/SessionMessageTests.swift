import Foundation
import Testing
@testable import PierCluster

/// The session's JSON: every message survives a round trip, and unknown types are refused by name.
@Suite struct SessionMessageTests {
    static func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(value))
    }

    @Test func logMessagesRoundTrip() throws {
        let request = ManagerMessage.logsRequest(LogsRequest(requestID: "r1", taskIDs: ["t1", "t2"], tail: 5, follow: true, timestamps: false))
        #expect(try Self.roundTrip(request) == request)
        let cancel = ManagerMessage.logsCancel("r1")
        #expect(try Self.roundTrip(cancel) == cancel)
        let bytes = Data([0x68, 0x69, 0x0a, 0xff, 0x00])  // not UTF-8: carried as base64
        let chunk = AgentMessage.logs(LogChunk(requestID: "r1", taskID: "t1", records: [.init(stream: "stderr", data: bytes)], end: true))
        #expect(try Self.roundTrip(chunk) == chunk)
        let text = String(decoding: try JSONEncoder().encode(cancel), as: UTF8.self)
        #expect(text.contains("\"type\":\"logsCancel\"") && text.contains("\"requestID\":\"r1\""))
    }

    @Test func unknownTypesAreRefusedByName() {
        #expect { try JSONDecoder().decode(ManagerMessage.self, from: Data(#"{"type":"reboot"}"#.utf8)) } throws: { error in
            "\(error)".contains("reboot")
        }
        #expect { try JSONDecoder().decode(AgentMessage.self, from: Data(#"{"type":"logs"}"#.utf8)) } throws: { _ in true }
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
