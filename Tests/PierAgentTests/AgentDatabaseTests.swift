import PierSpec
import Foundation
import PierAPI
import Testing
@testable import PierAgent

@Suite struct AgentDatabaseTests {
    func record(_ id: String, name: String) -> ContainerRecord {
        ContainerRecord(
            id: id, name: name, image: "busybox:latest", imageDigest: "sha256:" + String(repeating: "a", count: 64),
            config: ContainerSpec(image: "busybox", memory: "64m", labels: ["k": "v"]), state: .running,
            created: Date(timeIntervalSince1970: 1000), startedAt: nil, finishedAt: nil, exitCode: nil, error: nil,
            pid: 42, shimPid: 41, restartCount: 0, manuallyStopped: false, health: .none, healthLog: [],
            failingStreak: 0, ipAddress: nil, command: ["/bin/sh"])
    }

    @Test func survivesReopenAndRefusesDuplicateNames() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("agent.db")
        do {
            let db = try AgentDatabase(path: path)
            try db.insert(record("a1", name: "web"))
            #expect(try db.isNameTaken("web"))
            #expect(try !db.isNameTaken("web2") && !db.isNameTaken("WEB"))
            #expect(throws: AgentError.self) { try db.insert(record("a2", name: "web")) }
            try db.update("a1") { $0.restartCount = 3; $0.state = .exited }
        }
        let reopened = try AgentDatabase(path: path)
        let all = try reopened.all()
        #expect(all.count == 1)
        #expect(all[0].restartCount == 3 && all[0].state == .exited)
        #expect(all[0].config.memory == "64m" && all[0].config.labels == ["k": "v"])
    }

    @Test func namesAreValidated() {
        #expect(ContainerManager.isValidName("web-1.a_b"))
        #expect(!ContainerManager.isValidName("-web"))
        #expect(!ContainerManager.isValidName("we b"))
        #expect(!ContainerManager.isValidName("../etc"))
        #expect(!ContainerManager.isValidName(""))
    }
}
