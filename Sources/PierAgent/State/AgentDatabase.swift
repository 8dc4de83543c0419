import Foundation
import GRDB
import PierAPI
import PierPKI

/// The agent's state in SQLite. Every change is one transaction, so a kill at any
/// moment leaves the last committed state.
final class AgentDatabase: Sendable {
    private let queue: DatabaseQueue

    init(path: URL) throws {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try SecretFile.prepareDatabase(path)
        queue = try DatabaseQueue(path: path.path, configuration: config)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: ContainerRecord.databaseTableName) { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("image", .text).notNull()
                t.column("imageDigest", .text).notNull()
                t.column("config", .jsonText).notNull()
                t.column("state", .text).notNull()
                t.column("created", .datetime).notNull()
                t.column("startedAt", .datetime)
                t.column("finishedAt", .datetime)
                t.column("exitCode", .integer)
                t.column("error", .text)
                t.column("pid", .integer)
                t.column("shimPid", .integer)
                t.column("restartCount", .integer).notNull()
                t.column("manuallyStopped", .boolean).notNull()
                t.column("health", .text).notNull()
                t.column("healthLog", .jsonText).notNull()
                t.column("failingStreak", .integer).notNull()
                t.column("ipAddress", .text)
                t.column("command", .jsonText).notNull()
            }
        }
        try migrator.migrate(queue)
    }

    func all() throws -> [ContainerRecord] {
        try queue.read { db in try ContainerRecord.order(Column("created")).fetchAll(db) }
    }

    func get(_ id: String) throws -> ContainerRecord? {
        try queue.read { db in try ContainerRecord.fetchOne(db, key: id) }
    }

    /// Whether a container has this name (an index lookup: the column is unique).
    func isNameTaken(_ name: String) throws -> Bool {
        try queue.read { db in try ContainerRecord.filter(Column("name") == name).fetchCount(db) > 0 }
    }

    /// Inserts a new container; fails with a conflict if the name is taken.
    func insert(_ record: ContainerRecord) throws {
        try queue.write { db in
            if try ContainerRecord.filter(Column("name") == record.name).fetchCount(db) > 0 {
                throw AgentError.conflict("the container name \"\(record.name)\" is already in use; remove that container or choose another --name")
            }
            try record.insert(db)
        }
    }

    func save(_ record: ContainerRecord) throws {
        try queue.write { db in try record.save(db) }
    }

    /// Applies `change` to the stored record in one transaction and returns the result.
    @discardableResult
    func update(_ id: String, _ change: (inout ContainerRecord) throws -> Void) throws -> ContainerRecord {
        try queue.write { db in
            guard var record = try ContainerRecord.fetchOne(db, key: id) else { throw AgentError.noSuchContainer(id) }
            try change(&record)
            try record.update(db)
            return record
        }
    }

    func delete(_ id: String) throws {
        _ = try queue.write { db in try ContainerRecord.deleteOne(db, key: id) }
    }
}
