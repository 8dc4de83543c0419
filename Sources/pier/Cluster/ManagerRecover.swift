import ArgumentParser
import Foundation
import PierAgent
import PierManager

/// `pier manager recover`: restores a degraded manager's state from its last good backup.
struct ManagerRecover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Restore the manager's state from its last good backup (manager.db.backup).",
        discussion: "Run it while the manager (or `pier up`) is stopped, when its state database cannot be used: "
            + "the manager then starts degraded and says so on every request. The unusable database is moved aside as "
            + "manager.db.unusable-TIME (kept, never deleted) and the backup, checked first, takes its place. Changes "
            + "made after the backup was taken are lost; agents report their tasks again when they reconnect. "
            + "Give the data root when it is not /var/lib/pier: `pier manager recover --data-root DIR`."
    )

    /// `--data-root` is the manager's own option (`pier manager recover --data-root DIR`).
    @ParentCommand var manager: ManagerCommand

    func run() async throws {
        let dataRoot = URL(fileURLWithPath: manager.options.daemon.dataRoot).standardizedFileURL
        let lock = try DataRootLock(dataRoot: dataRoot)
        defer { lock.release() }
        let report = try await ManagerRecovery.recover(dataRoot: dataRoot)
        var lines = ["The database could not be used: \(report.problem)"]
        if let moved = report.movedAside { lines.append("Moved it aside to \(moved).") }
        let taken = report.backupTaken.map { " taken \(ISO8601DateFormatter().string(from: $0))" } ?? ""
        lines.append("Restored the backup\(taken): \(report.services) service(s), \(report.nodes) node(s). Changes made after it are lost.")
        lines.append("Start the manager again.")
        print(lines.joined(separator: "\n"))
    }
}
