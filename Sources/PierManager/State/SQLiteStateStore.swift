import Foundation
import GRDB
import PierCluster
import PierPKI
import Synchronization

/// The embedded state store: one SQLite file (WAL, `synchronous=FULL`), each record kept as
/// JSON beside the columns the store looks rows up by.
public final class SQLiteStateStore: StateStore {
    private let queue: DatabaseQueue

    /// Where the last good copy of the database is kept (`manager.db.backup`).
    public let backupPath: URL
    private let path: URL
    private let writes = Mutex(0)

    /// Opens (creating if absent) and checks the database: it must open, pass `PRAGMA
    /// quick_check` and have the manager's tables. Throws ``StateStoreError`` when it does not:
    /// a damaged database is not an empty one.
    public init(path: URL) throws {
        self.path = path
        backupPath = URL(fileURLWithPath: path.path + ".backup")
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try SecretFile.prepareDatabase(path)
        do {
            queue = try DatabaseQueue(path: path.path, configuration: config)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.quickCheck(queue, path: path.path)
            let backup = backupPath
            if try queue.read({ db in try !db.tableExists("meta") }), FileManager.default.fileExists(atPath: backup.path) {
                throw StateStoreError.lost(path: path.path, backup: backup.path)
            }
            try Self.migrator.migrate(queue)
            try queue.read { db in
                for (table, columns) in [("node", "id, body"), ("service", "id, name, body"), ("task", "id, serviceID, body"), ("meta", "key, value")] {
                    _ = try Row.fetchAll(db, sql: "SELECT \(columns) FROM \(table)")
                }
            }
        } catch let error as StateStoreError {
            throw error
        } catch {
            throw StateStoreError.unreadable(path: path.path, detail: "\(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "node") { t in
                t.primaryKey("id", .text)
                t.column("body", .jsonText).notNull()
            }
            try db.create(table: "service") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull().unique()
                t.column("body", .jsonText).notNull()
            }
            try db.create(table: "task") { t in
                t.primaryKey("id", .text)
                t.column("serviceID", .text).notNull().indexed()
                t.column("body", .jsonText).notNull()
            }
            try db.create(table: "meta") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        return migrator
    }

    static func quickCheck(_ reader: some DatabaseReader, path: String) throws {
        let findings = try reader.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard findings == ["ok"] else { throw StateStoreError.damaged(path: path, findings: findings) }
    }

    /// Everything stored. A row that cannot be decoded is not loaded: it is reported in
    /// `setAside` with the reason and stays in the database as it is.
    public func load() async throws -> StoredState {
        try await queue.read { db in try Self.state(db) }
    }

    private static func state(_ db: Database) throws -> StoredState {
        let decoder = Self.decoder
        var state = StoredState()
        func rows<T: Decodable>(_ table: String, _ type: T.Type, name: (Row) -> String?) throws -> [T] {
            try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid").compactMap { row in
                let id: String = (row["id"] as DatabaseValue?).flatMap { String.fromDatabaseValue($0) } ?? ""
                let text = (row["body"] as DatabaseValue?).flatMap { String.fromDatabaseValue($0) } ?? ""
                do { return try decoder.decode(T.self, from: Data(text.utf8)) } catch {
                    state.setAside.append(SetAsideRecord(
                        kind: table, id: id, name: name(row), reason: "the stored \(table) cannot be read: \(Self.describe(error))"))
                    return nil
                }
            }
        }
        func column(_ name: String) -> (Row) -> String? {
            { row in (row[name] as DatabaseValue?).flatMap { String.fromDatabaseValue($0) } }
        }
        state.nodes = try rows("node", Node.self, name: { _ in nil })
        state.services = try rows("service", Service.self, name: column("name"))
        state.tasks = try rows("task", ClusterTask.self, name: column("serviceID"))
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") {
            state.meta[row["key"]] = row["value"]
        }
        return state
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

    public func commit(_ changes: ChangeSet) throws {
        guard !changes.isEmpty else { return }
        let encoder = Self.encoder
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        // Encode before the transaction so the write lock is held only for the writes.
        let nodes = try changes.nodes.map { ($0.id, try json($0)) }
        let services = try changes.services.map { ($0.id, $0.spec.name, try json($0)) }
        let tasks = try changes.tasks.map { ($0.id, $0.serviceID, try json($0)) }
        try queue.write { db in
            for id in changes.deletedTasks { try db.execute(sql: "DELETE FROM task WHERE id = ?", arguments: [id]) }
            for id in changes.deletedServices { try db.execute(sql: "DELETE FROM service WHERE id = ?", arguments: [id]) }
            for id in changes.deletedNodes { try db.execute(sql: "DELETE FROM node WHERE id = ?", arguments: [id]) }
            for key in changes.deletedMeta { try db.execute(sql: "DELETE FROM meta WHERE key = ?", arguments: [key]) }
            for (id, body) in nodes {
                try db.execute(sql: "INSERT INTO node(id, body) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body", arguments: [id, body])
            }
            for (id, name, body) in services {
                try db.execute(
                    sql: "INSERT INTO service(id, name, body) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name, body = excluded.body",
                    arguments: [id, name, body])
            }
            for (id, serviceID, body) in tasks {
                try db.execute(
                    sql: "INSERT INTO task(id, serviceID, body) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                    arguments: [id, serviceID, body])
            }
            for (key, value) in changes.meta {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, value])
            }
        }
        writes.withLock { $0 += 1 }
    }

    // MARK: Backup

    /// Commits since the last backup.
    public var writesSinceBackup: Int { writes.withLock { $0 } }

    /// Copies the database to `backupPath` with SQLite's online backup, checks the copy
    /// (`quick_check`, and that every row loads), and only then puts it in place of the previous
    /// backup, mode 0600. A manager whose database is damaged later is restored from it by
    /// `pier manager recover`.
    public func backup() throws {
        let pending = writes.withLock { n in defer { n = 0 }; return n }
        let temporary = URL(fileURLWithPath: backupPath.path + ".tmp")
        do {
            try? FileManager.default.removeItem(at: temporary)
            try SecretFile.prepareDatabase(temporary)
            do {
                let copy = try DatabaseQueue(path: temporary.path)
                try queue.backup(to: copy)
                try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
                try copy.close()
            }
            try Self.verify(temporary)
            guard rename(temporary.path, backupPath.path) == 0 else {
                throw StateStoreError.unreadable(path: backupPath.path, detail: "cannot put the backup in place: \(String(cString: strerror(errno)))")
            }
            chmod(backupPath.path, 0o600)
        } catch {
            writes.withLock { $0 += pending }
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// Throws unless the database at `path` opens, passes `quick_check` and every row loads.
    public static func verify(_ path: URL) throws {
        guard FileManager.default.fileExists(atPath: path.path) else {
            throw StateStoreError.unreadable(path: path.path, detail: "there is no such file")
        }
        let store = try SQLiteStateStore(path: path)
        let state = try store.queue.read { db in try Self.state(db) }
        if let first = state.setAside.first {
            throw StateStoreError.damaged(path: path.path, findings: ["\(state.setAside.count) record(s) cannot be read, first \(first.kind) \(first.id): \(first.reason)"])
        }
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            // Seconds since 2001, Date's own representation: it round-trips exactly.
            try c.encode(date.timeIntervalSinceReferenceDate)
        }
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            Date(timeIntervalSinceReferenceDate: try decoder.singleValueContainer().decode(Double.self))
        }
        return d
    }()
}
