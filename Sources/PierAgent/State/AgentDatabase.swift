import Foundation
import GRDB
import PierAPI
import PierPKI
import PierRuntime

/// The agent's state in SQLite. Every change is one transaction, so a kill at any
/// moment leaves the last committed state.
///
/// A database that cannot be opened, fails `PRAGMA quick_check` or lacks its tables is not an
/// empty one: `open(path:)` then returns an unavailable database, every call on which throws
/// ``AgentError/unavailable(_:)`` naming the problem and `pier agent recover`, and the agent
/// touches no container until the database is rebuilt. A row that cannot be decoded is set
/// aside (``invalidRows()``), not trapped on and not treated as absent.
final class AgentDatabase: Sendable {
    private let queue: DatabaseQueue?
    /// Why the database cannot be used, when it cannot.
    let problem: String?
    let path: URL

    /// Opens (creating if absent) and checks the database; throws when it cannot be used.
    /// With `containersRoot`, a database without the agent's tables (new, emptied or truncated)
    /// is refused while that directory holds containers: their state was lost, not never made.
    init(path: URL, containersRoot: URL? = nil) throws {
        self.path = path
        problem = nil
        queue = try Self.openChecked(path: path, containersRoot: containersRoot)
    }

    private init(path: URL, problem: String) {
        self.path = path
        self.problem = problem
        queue = nil
    }

    /// The database at `path`, or an unavailable one saying what is wrong with it.
    static func open(path: URL, containersRoot: URL) -> AgentDatabase {
        do { return try AgentDatabase(path: path, containersRoot: containersRoot) } catch {
            return AgentDatabase(path: path, problem: "\(error)")
        }
    }

    private static func openChecked(path: URL, containersRoot: URL?) throws -> DatabaseQueue {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        try SecretFile.prepareDatabase(path)
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: path.path, configuration: config)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try StateIntegrity.quickCheck(queue)
            if let containersRoot, try queue.read({ db in try !db.tableExists("container") }) {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: containersRoot.path)) ?? []
                if !entries.isEmpty {
                    throw StateIntegrityError.lost(path: path.path, directories: entries.count, root: containersRoot.path)
                }
            }
            try migrator.migrate(queue)
            // Every column the agent reads is there (a table of another shape is not ours), and
            // every row can be read (a row that does not decode is set aside later, not here).
            try queue.read { db in
                _ = try Row.fetchAll(db, sql: "SELECT \(columns.joined(separator: ", ")) FROM container")
                _ = try Row.fetchAll(db, sql: "SELECT id FROM removed")
            }
        } catch let error as StateIntegrityError {
            throw error
        } catch {
            throw StateIntegrityError.unreadable(path: path.path, detail: "\(error)")
        }
        return queue
    }

    private static let columns = [
        "id", "name", "image", "imageDigest", "config", "state", "created", "startedAt", "finishedAt", "exitCode", "error",
        "pid", "shimPid", "restartCount", "manuallyStopped", "health", "healthLog", "failingStreak", "ipAddress", "command",
    ]

    private static var migrator: DatabaseMigrator {
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
        // Tombstones: containers whose record was deleted on purpose and whose directory may
        // still be there (an agent killed between the two). Adoption deletes only these.
        migrator.registerMigration("v2-removed") { db in
            try db.create(table: "removed") { t in
                t.primaryKey("id", .text)
            }
        }
        return migrator
    }

    private func database() throws -> DatabaseQueue {
        guard let queue else { throw AgentError.unavailable(Self.unavailableMessage(problem ?? "unknown problem")) }
        return queue
    }

    /// Throws unless the database can be used.
    func requireAvailable() throws { _ = try database() }

    /// What every request of a degraded agent answers.
    static func unavailableMessage(_ problem: String) -> String {
        "the agent's state cannot be used: \(problem). Containers are left as they are and not managed "
            + "(no restarts, no removals) until `pier agent recover` rebuilds the state from runc and the container directories"
    }

    /// The records that decode; rows that do not are left out (see `invalidRows`).
    func all() throws -> [ContainerRecord] {
        try database().read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM container ORDER BY created").compactMap { try? ContainerRecord(row: $0) }
        }
    }

    /// Rows that cannot be decoded into a record, with what is readable of them and why.
    func invalidRows() throws -> [InvalidContainer] {
        try database().read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM container ORDER BY created").compactMap { row in
                do {
                    _ = try ContainerRecord(row: row)
                    return nil
                } catch {
                    return InvalidContainer(row: row, reason: "the stored record cannot be read: \(Self.describe(error))")
                }
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx): "missing \((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            ctx.codingPath.isEmpty ? ctx.debugDescription
                : "field \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        default: "\(error)"
        }
    }

    func get(_ id: String) throws -> ContainerRecord? {
        try database().read { db in try ContainerRecord.fetchOne(db, key: id) }
    }

    /// Whether a container has this name (an index lookup: the column is unique).
    func isNameTaken(_ name: String) throws -> Bool {
        try database().read { db in try ContainerRecord.filter(Column("name") == name).fetchCount(db) > 0 }
    }

    /// Inserts a new container; fails with a conflict if the name is taken.
    func insert(_ record: ContainerRecord) throws {
        try database().write { db in
            if try ContainerRecord.filter(Column("name") == record.name).fetchCount(db) > 0 {
                throw AgentError.conflict("the container name \"\(record.name)\" is already in use; remove that container or choose another --name")
            }
            try record.insert(db)
        }
    }

    func save(_ record: ContainerRecord) throws {
        try database().write { db in try record.save(db) }
    }

    /// Applies `change` to the stored record in one transaction and returns the result.
    @discardableResult
    func update(_ id: String, _ change: (inout ContainerRecord) throws -> Void) throws -> ContainerRecord {
        try database().write { db in
            guard var record = try ContainerRecord.fetchOne(db, key: id) else { throw AgentError.noSuchContainer(id) }
            try change(&record)
            try record.update(db)
            return record
        }
    }

    /// Deletes the record and leaves a tombstone in the same transaction: the container was
    /// removed on purpose, so its directory may be deleted even if an agent dies before it is.
    func delete(_ id: String) throws {
        try database().write { db in
            try db.execute(sql: "DELETE FROM container WHERE id = ?", arguments: [id])
            try db.execute(sql: "INSERT OR IGNORE INTO removed(id) VALUES (?)", arguments: [id])
        }
    }

    /// Ids removed on purpose whose directory may still be there.
    func tombstones() throws -> Set<String> {
        try database().read { db in Set(try String.fetchAll(db, sql: "SELECT id FROM removed")) }
    }

    /// The container's directory is gone: its tombstone is no longer needed.
    func clearTombstone(_ id: String) throws {
        try database().write { db in try db.execute(sql: "DELETE FROM removed WHERE id = ?", arguments: [id]) }
    }
}

/// A stored container the agent cannot use: a row that does not decode, or a record that fails
/// the checks a create makes. It is listed with the reason and otherwise left as it is: not
/// watched, restarted or cleaned up; `pier rm -f` removes it.
struct InvalidContainer: Sendable, Equatable {
    var id: String
    var name: String
    var image: String
    /// The manifest digest its record names, if readable: still pinned against image pruning.
    var imageDigest: String
    var state: ContainerState
    var created: Date
    var reason: String

    init(id: String, name: String, image: String, imageDigest: String, state: ContainerState, created: Date, reason: String) {
        self.id = id; self.name = name; self.image = image; self.imageDigest = imageDigest; self.state = state
        self.created = created; self.reason = reason
    }

    init(row: Row, reason: String) {
        func text(_ column: String) -> String? { (row[column] as DatabaseValue?).flatMap { String.fromDatabaseValue($0) } }
        id = text("id") ?? ""
        name = text("name") ?? ""
        image = text("image") ?? ""
        imageDigest = text("imageDigest") ?? ""
        state = text("state").flatMap(ContainerState.init(rawValue:)) ?? .dead
        created = text("created").flatMap(UTCTimestamp.parse) ?? Date(timeIntervalSince1970: 0)
        self.reason = reason
    }

    init(_ record: ContainerRecord, reason: String) {
        self.init(id: record.id, name: record.name, image: record.image, imageDigest: record.imageDigest, state: record.state,
                  created: record.created, reason: reason)
    }
}
