import PierSpec
import Foundation
import GRDB
import PierAPI
import PierCluster
import Testing
@testable import PierManager

/// The manager's state as it is read back at start, with real SQLite files: records it cannot
/// use are set aside and listed while the rest works; a database it cannot use is refused, and
/// `ManagerRecovery` restores the last good backup.
@Suite struct ManagerStateTests {
    static let image = "busybox@sha256:" + String(repeating: "b", count: 64)

    static func service(_ id: String, _ name: String, replicas: Int = 1, health: HealthCheckConfig? = nil) -> Service {
        var container = ContainerSpec(image: image, command: ["sleep", "1000"])
        container.health = health
        return Service(id: id, spec: ServiceSpec(name: name, task: TaskTemplate(container: container), mode: .replicated(replicas)))
    }

    static func makeManager(_ store: SQLiteStateStore) async throws -> Manager {
        try await Manager(store: store) { _ in image }
    }

    @Test func invalidServicesAndTasksAreSetAsideListedAndLeftAlone() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("manager.db")
            let good = Self.service("s-good", "good")
            // Stored before specs were checked: each would trap or spin the reconciler.
            let huge = Self.service("s-huge", "huge", replicas: Int.max)
            let hasty = Self.service("s-hasty", "hasty", health: HealthCheckConfig(command: ["true"], intervalSeconds: 1e17))
            var kept = ClusterTask(id: "t-huge-1", serviceID: huge.id, serviceName: "huge", slot: 1, nodeID: "n1", serviceVersion: 1,
                                   template: huge.spec.task, image: Self.image)
            kept.transition(to: TaskStatus(state: .running, message: "started"))
            var badTask = ClusterTask(id: "t-bad", serviceID: good.id, serviceName: "good", slot: 1, serviceVersion: 1,
                                      template: hasty.spec.task, image: Self.image)
            badTask.slot = Int.max
            do {
                let store = try SQLiteStateStore(path: path)
                var changes = ChangeSet()
                changes.services = [good, huge, hasty, Self.service("s-garbled", "garbled")]
                changes.tasks = [kept, badTask, ClusterTask(id: "t-garbled", serviceID: good.id, serviceName: "good", slot: 2, serviceVersion: 1, template: good.spec.task, image: Self.image)]
                try store.commit(changes)
            }
            let queue = try DatabaseQueue(path: path.path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE service SET body = '{\"id\":' WHERE id = 's-garbled'")
                try db.execute(sql: "UPDATE task SET body = 'null' WHERE id = 't-garbled'")
            }
            try await queue.close()

            let manager = try await Self.makeManager(try SQLiteStateStore(path: path))
            let listed = await manager.listServices()
            #expect(listed.map(\.spec.name) == ["garbled", "good", "hasty", "huge"])
            let reasons = Dictionary(uniqueKeysWithValues: listed.map { ($0.spec.name, $0.invalid) })
            #expect(reasons["good"] == .some(nil))
            #expect(reasons["huge"]??.contains("replicas") == true, "\(String(describing: reasons["huge"]))")
            #expect(reasons["hasty"]??.contains("interval") == true)
            #expect(reasons["garbled"]??.contains("cannot be read") == true)
            let notices = await manager.notices() ?? []
            #expect(notices.contains { $0.contains("t-bad") && $0.contains("slot") })
            #expect(notices.contains { $0.contains("t-garbled") })

            // The reconciler works for the rest and leaves the set-aside service's task alone.
            try await manager.reconcilePass()
            let tasks = try await manager.listTasks()
            #expect(tasks.filter { $0.serviceName == "good" }.count == 1)
            #expect(tasks.contains { $0.id == "t-huge-1" && $0.desiredState == .running })
            #expect(!tasks.contains { $0.serviceName == "hasty" })
            // Still assigned to its node: the agent keeps it running.
            #expect(await manager.assignments(for: "n1").map(\.taskID) == ["t-huge-1"])

            // Asked for, a set-aside service is refused with the reason; `rm` removes it.
            await #expect(throws: ManagerError.self) { try await manager.scaleService("huge", replicas: 2) }
            _ = try await manager.scaleService("good", replicas: 2)
            await #expect(throws: ManagerError.self) { try await manager.createService(Self.service("x", "huge").spec) }
            try await manager.removeService("huge")
            let reloaded = try await SQLiteStateStore(path: path).load()
            #expect(!reloaded.services.contains { $0.id == "s-huge" })
            #expect(!reloaded.tasks.contains { $0.id == "t-huge-1" })
        }
    }

    @Test(arguments: ["garbage", "emptied", "halved"])
    func anUnusableDatabaseIsRefusedAndTheBackupRestored(_ damage: String) async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("manager.db")
            let backup = URL(fileURLWithPath: path.path + ".backup")
            do {
                let store = try SQLiteStateStore(path: path)
                var changes = ChangeSet()
                changes.services = (0..<40).map { Self.service("s\($0)", "web\($0)") }
                try store.commit(changes)
                #expect(store.writesSinceBackup == 1)
                try store.backup()
                #expect(store.writesSinceBackup == 0)
                var later = ChangeSet()
                later.services = [Self.service("s-late", "late")]
                try store.commit(later)
            }
            let mode = try #require(try FileManager.default.attributesOfItem(atPath: backup.path)[.posixPermissions] as? Int)
            #expect(mode == 0o600)
            // Nothing to recover from a usable database.
            await #expect(throws: ManagerError.self) { _ = try await ManagerRecovery.recover(dataRoot: dir) }

            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path.path + suffix) }
            let size = try #require(try FileManager.default.attributesOfItem(atPath: path.path)[.size] as? Int)
            switch damage {
            case "garbage": try Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 17) }).write(to: path)
            case "emptied": try Data().write(to: path)
            default: try Data(try Data(contentsOf: path).prefix(size / 2)).write(to: path)
            }
            #expect(throws: StateStoreError.self) { _ = try SQLiteStateStore(path: path) }

            let report = try await ManagerRecovery.recover(dataRoot: dir)
            #expect(report.services == 40)
            let aside = try #require(report.movedAside)
            #expect(FileManager.default.fileExists(atPath: aside), "the unusable database was not kept")
            let restored = try await SQLiteStateStore(path: path).load()
            #expect(restored.services.count == 40 && !restored.services.contains { $0.spec.name == "late" })
        }
    }

    @Test func aBackupThatFailsItsChecksNeverReplacesTheLastGoodOne() async throws {
        try await withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("manager.db")
            let store = try SQLiteStateStore(path: path)
            var changes = ChangeSet()
            changes.services = [Self.service("s1", "web")]
            try store.commit(changes)
            try store.backup()
            let good = try Data(contentsOf: store.backupPath)
            let queue = try DatabaseQueue(path: path.path)
            try await queue.write { db in try db.execute(sql: "UPDATE service SET body = 'x' WHERE id = 's1'") }
            try await queue.close()
            #expect(throws: StateStoreError.self) { try store.backup() }
            #expect(try Data(contentsOf: store.backupPath) == good)
            // And with no backup at all, recover changes nothing.
            try FileManager.default.removeItem(at: store.backupPath)
            await #expect(throws: ManagerError.self) { _ = try await ManagerRecovery.recover(dataRoot: dir) }
            #expect(FileManager.default.fileExists(atPath: path.path))
        }
    }
}
