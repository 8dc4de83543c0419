import Foundation
import GRDB
import PierCluster
import PierPKI

/// The embedded state store: one SQLite file (WAL, `synchronous=FULL`), each record kept as
/// JSON beside the columns the store looks rows up by.
public final class SQLiteStateStore: StateStore {
    private let queue: DatabaseQueue

    public init(path: URL) throws {
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try SecretFile.prepareDatabase(path)
        queue = try DatabaseQueue(path: path.path, configuration: config)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
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
        try migrator.migrate(queue)
    }

    public func load() async throws -> StoredState {
        let decoder = Self.decoder
        return try await queue.read { db in
            func bodies(_ table: String) throws -> [Data] {
                try Row.fetchAll(db, sql: "SELECT body FROM \(table) ORDER BY rowid").map { row in
                    let text: String = row["body"]
                    return Data(text.utf8)
                }
            }
            var state = StoredState()
            state.nodes = try bodies("node").map { try decoder.decode(Node.self, from: $0) }
            state.services = try bodies("service").map { try decoder.decode(Service.self, from: $0) }
            state.tasks = try bodies("task").map { try decoder.decode(ClusterTask.self, from: $0) }
            for row in try Row.fetchAll(db, sql: "SELECT key, value FROM meta") {
                state.meta[row["key"]] = row["value"]
            }
            return state
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
