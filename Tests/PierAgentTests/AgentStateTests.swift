import PierSpec
import Foundation
import PierCluster
import GRDB
import PierAPI
import Testing
@testable import PierAgent

/// The agent's state as it is read back at start, with a real SQLite database and the real
/// runtime: what it cannot use it sets aside or refuses, and it never deletes what it cannot
/// prove it removed on purpose.
@Suite struct AgentStateTests {
    static func id(_ c: Character) -> String { String(repeating: c, count: 64) }

    static func record(_ id: String, name: String, state: ContainerState = .exited, config: ContainerSpec? = nil) -> ContainerRecord {
        ContainerRecord(
            id: id, name: name, image: "busybox:latest", imageDigest: "sha256:" + String(repeating: "a", count: 64),
            config: config ?? ContainerSpec(image: "busybox", name: name), state: state,
            created: Date(timeIntervalSince1970: 1000), startedAt: nil, finishedAt: nil, exitCode: 0, error: nil,
            pid: nil, shimPid: nil, restartCount: 0, manuallyStopped: false, health: .none, healthLog: [],
            failingStreak: 0, ipAddress: nil, command: ["/bin/sh"])
    }

    /// A data root for `body`, removed afterwards.
    func withDataRoot(_ body: (AgentConfiguration) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var configuration = AgentConfiguration(dataRoot: root, shimPath: "/nonexistent/pier-shim")
        configuration.networkPool = 0
        try FileManager.default.createDirectory(at: configuration.containersRoot, withIntermediateDirectories: true)
        try await body(configuration)
    }

    /// A container directory with a file in it, as a launch leaves one.
    func makeDirectory(_ configuration: AgentConfiguration, _ id: String) throws -> URL {
        let dir = configuration.containersRoot.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("log\n".utf8).write(to: dir.appendingPathComponent("container.log"))
        return dir
    }

    @Test func invalidRowsAreSetAsideListedAndLeftAloneWhileTheRestWorks() async throws {
        try await withDataRoot { configuration in
            let good = Self.id("a"), badHealth = Self.id("b"), unreadable = Self.id("c")
            do {
                let db = try AgentDatabase(path: configuration.databasePath)
                try db.insert(Self.record(good, name: "good"))
                var config = ContainerSpec(image: "busybox", name: "hasty")
                config.health = HealthCheckConfig(command: ["true"], intervalSeconds: 1e17)
                // Says running with a shim pid that is no shim: adopting it would record an exit.
                var hasty = Self.record(badHealth, name: "hasty", state: .running, config: config)
                hasty.shimPid = 999_999
                try db.save(hasty)
                try db.insert(Self.record(unreadable, name: "garbled"))
            }
            let queue = try DatabaseQueue(path: configuration.databasePath.path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE container SET config = 'not json' WHERE id = ?", arguments: [unreadable])
            }
            try await queue.close()
            let dirs = try [badHealth, unreadable].map { try makeDirectory(configuration, $0) }

            let node = try await AgentNode.open(configuration: configuration)
            defer { node.release() }
            #expect(node.degraded == nil)
            let listed = try await node.containers.list(all: true)
            #expect(listed.map(\.name).sorted() == ["garbled", "good", "hasty"])
            let hastyRow = try #require(listed.first { $0.name == "hasty" })
            #expect(hastyRow.invalid?.contains("interval 1e+17s is outside") == true, "\(hastyRow.invalid ?? "not set aside")")
            #expect(listed.first { $0.name == "garbled" }?.invalid?.contains("cannot be read") == true)
            #expect(listed.first { $0.name == "good" }?.invalid == nil)
            // Left as it was: not adopted, no exit recorded, directories kept.
            let stored = try #require(try node.containers.database.all().first { $0.id == badHealth })
            #expect(stored.state == .running && stored.shimPid == 999_999)
            for dir in dirs { #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("container.log").path)) }
            // Asked for by name, a set-aside container is refused with the reason; the others work.
            await #expect(throws: AgentError.self) { try await node.containers.stop("hasty", timeout: 1) }
            do { _ = try await node.containers.inspect("hasty") } catch { #expect("\(error)".contains("set aside") && "\(error)".contains("rm -f")) }
            #expect(try await node.containers.inspect("good").summary.name == "good")
            let notices = await node.containers.notices() ?? []
            #expect(notices.contains { $0.contains("hasty") } && notices.contains { $0.contains("garbled") })
            // `rm` needs -f (it may run); `rm -f` removes it.
            await #expect(throws: AgentError.self) { try await node.containers.remove("garbled", force: false) }
            try await node.containers.remove("garbled", force: true)
            try await node.containers.remove("good", force: false)
            #expect(try await node.containers.list(all: true).map(\.name) == ["hasty"])
        }
    }

    @Test func adoptionLeavesAnUnknownDirectoryAloneAndDeletesATombstonedOne() async throws {
        try await withDataRoot { configuration in
            let unknown = Self.id("d"), removed = Self.id("e")
            do {
                let db = try AgentDatabase(path: configuration.databasePath)
                try db.insert(Self.record(removed, name: "gone"))
                try db.delete(removed)  // removed on purpose: the tombstone stays until the directory is gone
            }
            let unknownDir = try makeDirectory(configuration, unknown)
            let removedDir = try makeDirectory(configuration, removed)
            let node = try await AgentNode.open(configuration: configuration)
            defer { node.release() }
            #expect(FileManager.default.fileExists(atPath: unknownDir.appendingPathComponent("container.log").path), "an unknown container directory was deleted")
            #expect(!FileManager.default.fileExists(atPath: removedDir.path), "the directory of a removed container outlived the restart")
            #expect(try node.containers.database.tombstones().isEmpty)
            let notices = await node.containers.notices() ?? []
            #expect(notices.contains { $0.contains(unknown) && $0.contains("pier agent recover") }, "\(notices)")
        }
    }

    @Test(arguments: ["garbage", "empty", "halved"])
    func anUnusableDatabaseDegradesTheAgentWhichTouchesNothing(_ damage: String) async throws {
        try await withDataRoot { configuration in
            let id = Self.id("f")
            do {
                let db = try AgentDatabase(path: configuration.databasePath)
                for i in 0..<200 { try db.insert(Self.record(String(format: "%064x", i + 1), name: "filler-\(i)")) }
                try db.insert(Self.record(id, name: "kept"))
            }
            let dir = try makeDirectory(configuration, id)
            let path = configuration.databasePath.path
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            #expect(size > 8192)
            switch damage {
            case "garbage": try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }).write(to: configuration.databasePath)
            case "empty": try Data().write(to: configuration.databasePath)
            default: try Data(try Data(contentsOf: configuration.databasePath).prefix(size / 2)).write(to: configuration.databasePath)
            }
            let node = try await AgentNode.open(configuration: configuration)
            defer { node.release() }
            let problem = try #require(node.degraded, "the agent did not notice the \(damage) database")
            #expect(problem.contains(path), "\(problem)")
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("container.log").path))
            do {
                _ = try await node.containers.list(all: true)
                Issue.record("a degraded agent listed containers")
            } catch let error as AgentError {
                guard case .unavailable(let message) = error else { Issue.record("\(error)"); return }
                #expect(message.contains("pier agent recover"))
            }
            await #expect(throws: AgentError.self) { try await node.containers.create(ContainerSpec(image: "busybox")) }
            await #expect(throws: AgentError.self) { try await node.containers.remove("kept", force: true) }
            #expect(FileManager.default.fileExists(atPath: dir.path))
        }
    }

    /// A task the manager sends whose container would fail a create is refused before it is
    /// stored, with the reason in the report.
    @Test func assignedTasksAreCheckedBeforeTheyAreStored() {
        var container = ContainerSpec(image: "busybox")
        container.health = HealthCheckConfig(command: ["true"], intervalSeconds: .infinity)
        let bad = AssignedTask(taskID: "t-bad", serviceID: "s", serviceName: "web", containerName: "web.1.t-bad",
                               image: "busybox@sha256:" + String(repeating: "a", count: 64), template: .init(container: container), desiredState: .running)
        var fine = bad
        fine.taskID = "t-ok"
        fine.containerName = "web.2.t-ok"
        fine.template.container.health = nil
        var badName = fine
        badName.taskID = "t-name"
        badName.containerName = "../../etc"
        let (accepted, refused) = ClusterAgent.check([bad, fine, badName])
        #expect(accepted.map(\.taskID) == ["t-ok"])
        #expect(refused.map(\.taskID) == ["t-bad", "t-name"])
        #expect(refused.allSatisfy { $0.state == .rejected })
        #expect(refused.first?.error?.contains("interval") == true)
    }
}
