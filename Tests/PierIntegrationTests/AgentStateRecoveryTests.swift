import Foundation
import GRDB
import Testing

/// The agent's database damaged or lost under running containers: the agent kills and deletes
/// nothing, says what is wrong, and `pier agent recover` brings the containers back under its
/// management. Real agents, runc containers and SQLite files.
@Suite(.serialized)
struct AgentStateRecoveryTests {
    @Test(arguments: ["garbage", "emptied"])
    func anUnusableDatabaseLeavesRunningContainersAloneUntilRecover(_ damage: String) throws {
        let agent = try TestAgent()
        defer { recoverIfDegraded(agent); agent.tearDown() }
        try makeBusyboxImage(agent)
        let ids = try ["one", "two"].map { name in
            try agent.ok("run", "-d", "--name", name, "--network", "none", "test/busybox:1", "sleep", "1000").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let pids = try ids.map { try #require(try inspected($0, agent)["pid"] as? Int32) }
        agent.stopGracefully()
        try damageDatabase(agent, damage)

        try agent.start()
        let info = try agent.ok("info")
        #expect(info.contains("DEGRADED") && info.contains("agent.db") && info.contains("pier agent recover"), "\(info)")
        let ps = try agent.pier("ps")
        #expect(ps.status != 0 && ps.stderr.contains("pier agent recover"), "ps answered: \(ps.stdout) \(ps.stderr)")
        #expect(try agent.pier("run", "-d", "--network", "none", "test/busybox:1", "true").status != 0)
        for pid in pids { #expect(kill(pid, 0) == 0, "a container was killed by a degraded agent") }
        for id in ids { #expect(FileManager.default.fileExists(atPath: agent.root.appendingPathComponent("containers/\(id)/rootfs").path)) }

        agent.stopGracefully()
        let recovered = try runProcess(Binaries.pier.path, ["agent", "recover", "--data-root", agent.root.path])
        #expect(recovered.status == 0, "\(recovered.stderr)")
        #expect(recovered.stdout.contains("Recovered 2 container(s)"), "\(recovered.stdout)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: agent.root.path).filter { $0.hasPrefix("agent.db.unusable-") }
        #expect(!aside.isEmpty, "the unusable database was not kept")

        try agent.start()
        #expect(!(try agent.ok("info")).contains("DEGRADED"))
        let listed = try agent.ok("ps", "--format", "json")
        #expect(listed.contains("\"one\"") && listed.contains("\"two\""), "\(listed)")
        // The same processes, adopted: not restarted.
        #expect(try inspected("one", agent)["pid"] as? Int32 == pids[0])
        try agent.ok("stop", "-t", "1", "one")
        #expect(try inspected("one", agent)["state"] as? String == "exited")
        #expect(kill(pids[0], 0) != 0, "stop did not end the recovered container")
        #expect(kill(pids[1], 0) == 0)
    }

    /// A healthy database without the record of a running container (lost by hand): the
    /// container is left running and its directory kept, the agent reports it, and `recover`
    /// adds it to the database it keeps.
    @Test func aContainerWithoutARecordIsLeftAloneAndRecoveredIntoAHealthyDatabase() throws {
        let agent = try TestAgent()
        defer { recoverIfDegraded(agent); agent.tearDown() }
        try makeBusyboxImage(agent)
        let lost = try agent.ok("run", "-d", "--name", "lost", "--network", "none", "test/busybox:1", "sleep", "1000")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try agent.ok("run", "-d", "--name", "kept", "--network", "none", "test/busybox:1", "sleep", "1000")
        let pid = try #require(try inspected(lost, agent)["pid"] as? Int32)
        agent.stopGracefully()
        let queue = try DatabaseQueue(path: agent.root.appendingPathComponent("agent.db").path)
        try queue.write { db in try db.execute(sql: "DELETE FROM container WHERE id = ?", arguments: [lost]) }
        try queue.close()

        try agent.start()
        #expect(kill(pid, 0) == 0, "the container without a record was killed")
        #expect(FileManager.default.fileExists(atPath: agent.root.appendingPathComponent("containers/\(lost)/rootfs").path))
        let info = try agent.ok("info")
        #expect(info.contains(lost) && info.contains("has no record"), "\(info)")
        #expect(!(try agent.ok("ps", "-q")).contains(lost.prefix(12)))
        #expect(try agent.ok("ps", "--format", "json").contains("\"kept\""))

        agent.stopGracefully()
        let recovered = try runProcess(Binaries.pier.path, ["agent", "recover", "--data-root", agent.root.path])
        #expect(recovered.status == 0 && recovered.stdout.contains("Recovered 1 container(s)"), "\(recovered.stdout) \(recovered.stderr)")
        #expect(!recovered.stdout.contains("Moved it aside"))
        try agent.start()
        #expect(try inspected("lost", agent)["pid"] as? Int32 == pid)
        try agent.ok("stop", "-t", "1", "lost")
        #expect(kill(pid, 0) != 0)
    }

    /// A stored record that fails the create checks (a health interval that would overflow its
    /// timer): set aside and listed with the reason, its container left running; the others work.
    @Test func anInvalidRecordIsSetAsideAndItsContainerLeftRunning() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let id = try agent.ok("run", "-d", "--name", "checked", "--network", "none", "--health-cmd", "true", "--health-interval", "5s",
                              "test/busybox:1", "sleep", "1000").trimmingCharacters(in: .whitespacesAndNewlines)
        try agent.ok("run", "-d", "--name", "fine", "--network", "none", "test/busybox:1", "sleep", "1000")
        let pid = try #require(try inspected(id, agent)["pid"] as? Int32)
        agent.stopGracefully()
        let queue = try DatabaseQueue(path: agent.root.appendingPathComponent("agent.db").path)
        try queue.write { db in
            try db.execute(sql: "UPDATE container SET config = json_set(config, '$.health.intervalSeconds', 1e17) WHERE id = ?", arguments: [id])
        }
        try queue.close()

        try agent.start()
        let ps = try agent.ok("ps")
        #expect(ps.contains("invalid: health check: interval"), "\(ps)")
        #expect(kill(pid, 0) == 0, "the set-aside container was stopped")
        let inspect = try agent.pier("inspect", "checked")
        #expect(inspect.status != 0 && inspect.stderr.contains("set aside"))
        try agent.ok("stop", "-t", "1", "fine")
        #expect(try inspected("fine", agent)["state"] as? String == "exited")
        try agent.ok("rm", "-f", "checked")
        #expect(kill(pid, 0) != 0 || processIsZombie(pid), "rm -f left the set-aside container running")
        #expect(!(try agent.ok("ps", "-a")).contains("checked"))
    }

    private func damageDatabase(_ agent: TestAgent, _ damage: String) throws {
        let path = agent.root.appendingPathComponent("agent.db")
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path.path + suffix) }
        switch damage {
        case "garbage":
            var bytes = [UInt8](repeating: 0, count: 32 << 10)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            try Data(bytes).write(to: path)
        default:
            try Data().write(to: path)
        }
    }

    /// After a failed test, makes the agent usable again so that `tearDown` can remove its containers.
    private func recoverIfDegraded(_ agent: TestAgent) {
        guard let info = try? agent.pier("info"), info.stdout.contains("DEGRADED") else { return }
        agent.stopGracefully()
        _ = try? runProcess(Binaries.pier.path, ["agent", "recover", "--data-root", agent.root.path])
        try? agent.start()
    }
}

/// `pier inspect REF`'s object.
private func inspected(_ ref: String, _ agent: TestAgent) throws -> [String: Any] {
    let text = try agent.ok("inspect", ref)
    let list = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
    var object = try #require(list.first)
    if let pid = object["pid"] as? Int { object["pid"] = Int32(pid) }
    if let summary = object["summary"] as? [String: Any], let state = summary["state"] { object["state"] = state }
    return object
}

private func processIsZombie(_ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
    return status.split(separator: ")").last?.trimmingCharacters(in: .whitespaces).hasPrefix("Z") ?? true
}
