import Foundation
import GRDB

/// Why a state database cannot be used.
enum StateIntegrityError: Error, CustomStringConvertible {
    /// SQLite cannot open or read it (not a database, truncated, wrong shape).
    case unreadable(path: String, detail: String)
    /// `PRAGMA quick_check` found damage.
    case damaged(path: String, findings: [String])
    /// It holds no state (new, emptied or truncated) while containers exist.
    case lost(path: String, directories: Int, root: String)

    var description: String {
        switch self {
        case .unreadable(let path, let detail): "\(path) cannot be read as the agent's database (\(detail))"
        case .damaged(let path, let findings):
            "\(path) is damaged (SQLite quick_check: \(findings.prefix(3).joined(separator: "; "))\(findings.count > 3 ? "; …" : ""))"
        case .lost(let path, let directories, let root):
            "\(path) holds no state (it is new, emptied or truncated) but \(root) has \(directories) container director\(directories == 1 ? "y" : "ies"): the records were lost"
        }
    }
}

enum StateIntegrity {
    /// Runs `PRAGMA quick_check`; throws with its findings unless it answers `ok`.
    static func quickCheck(_ reader: some DatabaseReader) throws {
        let findings = try reader.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        guard findings == ["ok"] else { throw StateIntegrityError.damaged(path: reader.path, findings: findings) }
    }
}
