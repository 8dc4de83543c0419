import Foundation
import PierAPI
import PierRuntime

/// `pier agent recover`: rebuilds the agent's container records from what is on disk, so that
/// the next agent adopts the containers again. Runs while no agent uses the data root.
///
/// A database that cannot be used is moved aside (kept, never deleted) and a new one made; a
/// usable one is kept and only gains the containers it lacks. Each container directory with the
/// agent's creation marker (`record.json`) becomes a record again: running when its `pier-shim`
/// still runs, else exited with the exit its shim recorded. Directories without a marker, and
/// those of containers removed on purpose, are left alone and reported.
public enum AgentRecovery {
    public struct Report: Sendable, Equatable {
        /// Where the unusable database was moved, if it was.
        public var movedAside: String?
        /// Why the database could not be used, if it could not.
        public var problem: String?
        /// Containers recovered: name, id and state.
        public var recovered: [String]
        /// Directories left as they are, and why.
        public var skipped: [String]
    }

    public static func recover(configuration: AgentConfiguration) throws -> Report {
        let lock = try DataRootLock(configuration.dataRoot.appendingPathComponent("agent.lock"))
        defer { lock.release() }
        let path = configuration.databasePath
        var report = Report(movedAside: nil, problem: nil, recovered: [], skipped: [])
        let database: AgentDatabase
        do {
            database = try AgentDatabase(path: path, containersRoot: configuration.containersRoot)
        } catch {
            report.problem = "\(error)"
            report.movedAside = try moveAside(path)
            database = try AgentDatabase(path: path)
        }
        let known = Set(try database.all().map(\.id) + database.invalidRows().map(\.id))
        let tombstones = try database.tombstones()
        let root = configuration.containersRoot
        let entries = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
        let shims = runningShims()
        for name in entries where !known.contains(name) {
            let directory = root.appendingPathComponent(name)
            if tombstones.contains(name) {
                report.skipped.append("\(directory.path): removed on purpose; the agent finishes deleting it")
                continue
            }
            do {
                let record = try rebuild(directory: directory, id: name, shims: shims, database: database)
                try database.insert(record)
                report.recovered.append("\(record.name) \(record.id.prefix(12)) \(record.state.rawValue)")
            } catch {
                report.skipped.append("\(directory.path): \(error)")
            }
        }
        return report
    }

    /// Moves the database and its WAL and shared-memory files aside, with the time in their names.
    static func moveAside(_ path: URL) throws -> String {
        let stamp = UTCTimestamp.format(Date(), fractionDigits: 0).replacingOccurrences(of: ":", with: "")
        let target = path.path + ".unusable-" + stamp
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path.path + suffix) {
            guard rename(path.path + suffix, target + suffix) == 0 else {
                throw AgentError.failed("cannot move \(path.path + suffix) aside: \(String(cString: strerror(errno)))")
            }
        }
        return target
    }

    /// The record of the container in `directory`, from its creation marker and its shim.
    static func rebuild(directory: URL, id: String, shims: [String: Int32], database: AgentDatabase) throws -> ContainerRecord {
        let marker = try CreationMarker.read(from: directory)
        guard marker.id == id else { throw AgentError.invalid("its record.json names container \(marker.id.prefix(12)), not \(id.prefix(12))") }
        var name = marker.name
        if try database.isNameTaken(name) { name += "-recovered-" + id.prefix(6) }
        var record = ContainerRecord(
            id: id, name: name, image: marker.image, imageDigest: marker.imageDigest, config: marker.config, state: .exited,
            created: marker.created, startedAt: nil, finishedAt: nil, exitCode: nil, error: nil, pid: nil, shimPid: nil,
            restartCount: 0, manuallyStopped: false, health: marker.config.health == nil ? .none : .starting,
            healthLog: [], failingStreak: 0, ipAddress: nil, command: marker.command)
        record.config.name = name
        if let problem = ContainerManager.problem(with: record) { throw AgentError.invalid("its record cannot be used: \(problem)") }
        let layout = ContainerLayout(directory: directory)
        if let shim = shims[id] {
            record.state = .running
            record.shimPid = shim
            record.pid = layout.containerPID()
            record.startedAt = (try? FileManager.default.attributesOfItem(atPath: layout.pidFile.path)[.modificationDate] as? Date) ?? marker.created
        } else {
            let exit = ExitRecord.read(from: layout.exitFile)
            record.exitCode = exit?.exitCode ?? 255
            record.finishedAt = exit?.finishedAt ?? Date()
            record.error = exit == nil ? "recovered by `pier agent recover`; no exit was recorded" : exit?.error
            // Whatever the last run left (mount, network, cgroup) goes at the next agent's start.
            _ = FileManager.default.createFile(atPath: directory.appendingPathComponent("cleanup-pending").path, contents: nil)
        }
        return record
    }

    /// Container id → pid of every live `pier-shim` on this host.
    static func runningShims() -> [String: Int32] {
        var shims: [String: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let first = args.first, first.hasSuffix("pier-shim"), let i = args.firstIndex(of: "--id"), i + 1 < args.count else { continue }
            let id = args[i + 1]
            if ShimProcess.isAlive(pid: pid, id: id) { shims[id] = pid }
        }
        return shims
    }
}
