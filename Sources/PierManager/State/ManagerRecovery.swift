import Foundation

/// `pier manager recover`: puts the last good backup of the manager's state in place of a
/// database that cannot be used. Runs while no manager uses the data root (the caller holds
/// its lock, as `pier manager recover` does). The unusable
/// database is moved aside (kept, never deleted); changes made after the backup are lost.
public enum ManagerRecovery {
    public struct Report: Sendable, Equatable {
        /// Why the database could not be used.
        public var problem: String
        /// Where it was moved.
        public var movedAside: String?
        /// When the backup that replaced it was taken.
        public var backupTaken: Date?
        public var services: Int
        public var nodes: Int
    }

    public static func recover(dataRoot: URL) async throws -> Report {
        let path = dataRoot.appendingPathComponent("manager.db")
        let backup = URL(fileURLWithPath: path.path + ".backup")
        let problem: String
        do {
            try SQLiteStateStore.verify(path)
            throw ManagerError.conflict("\(path.path) opens, passes its checks and every record loads: there is nothing to recover")
        } catch let error as StateStoreError {
            problem = "\(error)"
        }
        do { try SQLiteStateStore.verify(backup) } catch {
            throw ManagerError.failed("no usable backup to restore: \(error). \(path.path) is left as it is")
        }
        let taken = (try? FileManager.default.attributesOfItem(atPath: backup.path)[.modificationDate]) as? Date
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let aside = path.path + ".unusable-" + stamp
        var moved = false
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path.path + suffix) {
            guard rename(path.path + suffix, aside + suffix) == 0 else {
                throw ManagerError.failed("cannot move \(path.path + suffix) aside: \(String(cString: strerror(errno)))")
            }
            moved = true
        }
        let temporary = URL(fileURLWithPath: path.path + ".restoring")
        try? FileManager.default.removeItem(at: temporary)
        try FileManager.default.copyItem(at: backup, to: temporary)
        chmod(temporary.path, 0o600)
        guard rename(temporary.path, path.path) == 0 else {
            throw ManagerError.failed("cannot put the backup in place at \(path.path): \(String(cString: strerror(errno)))")
        }
        let state = try await SQLiteStateStore(path: path).load()
        return Report(problem: problem, movedAside: moved ? aside : nil, backupTaken: taken, services: state.services.count, nodes: state.nodes.count)
    }
}
