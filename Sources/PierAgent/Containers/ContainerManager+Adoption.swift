import Foundation
import PierAPI

extension ContainerManager {
    /// Picks up where a previous agent left off: containers whose shim still runs are
    /// watched again; those that ended meanwhile get their exit recorded and their restart
    /// policy applied; half-made containers from a crash are cleaned away.
    ///
    /// It deletes only what it can prove this agent removed on purpose (a tombstone in the
    /// database). A database it cannot use makes it touch nothing at all; a record it cannot use
    /// is set aside; a container directory it knows nothing of is left alone and reported.
    func adopt() async {
        if let problem = database.problem {
            logger.critical("degraded: \(problem); no container is adopted, restarted or removed. Run `pier agent recover` to rebuild the state")
            return
        }
        let records: [ContainerRecord]
        let unreadable: [InvalidContainer]
        let tombstones: Set<String>
        do {
            records = try database.all()
            unreadable = try database.invalidRows()
            tombstones = try database.tombstones()
        } catch {
            logger.critical("cannot read the containers' records: \(error); no container is adopted, restarted or removed")
            return
        }
        // The containers' teardowns below may hand pooled namespaces back.
        for problem in await runtime.recoverStandby() {
            logger.warning("network pool: \(problem)")
        }
        for c in unreadable { setAsideAtStart(c) }
        var usable: [ContainerRecord] = []
        for r in records {
            if let problem = Self.problem(with: r) { setAsideAtStart(InvalidContainer(r, reason: problem)) } else { usable.append(r) }
        }
        for r in usable {
            switch r.state {
            case .running:
                if let shim = r.shimPid, runtime.isShimAlive(pid: shim, id: r.id) {
                    logger.info("adopted running container", metadata: ["id": "\(r.id.prefix(12))", "name": "\(r.name)"])
                    watch(r, generation: bumpGeneration(r.id))
                } else {
                    let info = runtime.exitInfo(directory: directory(r.id)) ?? ExitInfo(
                        exitCode: 255, finishedAt: Date(),
                        error: "the container ended while the agent was down and no exit was recorded (was the node restarted?)")
                    await processExit(r, info: info)
                }
            case .restarting:
                scheduleRestart(r, after: .milliseconds(100))
            case .created:
                // A start that a crash interrupted may have left a mount or a network behind.
                if runtime.hasLaunchState(id: r.id, directory: directory(r.id)) {
                    await cleanup(r.id)
                }
            case .exited, .dead:
                // The previous agent recorded the exit but was killed before the teardown.
                if FileManager.default.fileExists(atPath: cleanupMarker(r.id).path) {
                    await deferredCleanup(r.id)
                }
            }
        }
        // Directories without a record: removed on purpose (a tombstone) and not yet deleted
        // when an agent died, or unknown (left alone: only `pier agent recover` takes them in).
        let known = Set(records.map(\.id) + unreadable.map(\.id))
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: configuration.containersRoot.path)) ?? []
        var unknown: [String] = []
        for name in entries.sorted() where !known.contains(name) {
            guard tombstones.contains(name) else {
                unknown.append(name)
                continue
            }
            let dir = configuration.containersRoot.appendingPathComponent(name)
            await cleanup(name)
            try? FileManager.default.removeItem(at: dir)
            if !FileManager.default.fileExists(atPath: dir.path) { try? database.clearTombstone(name) }
        }
        for id in tombstones where !entries.contains(id) { try? database.clearTombstone(id) }
        unknownDirectories = unknown
        for name in unknown {
            logger.warning("container directory \(configuration.containersRoot.appendingPathComponent(name).path) has no record; left as it is (`pier agent recover` takes it in)")
        }
    }

    private func setAsideAtStart(_ c: InvalidContainer) {
        invalid[c.id] = c
        logger.error("container set aside", metadata: ["id": "\(c.id.prefix(12))", "name": "\(c.name)", "reason": "\(c.reason)"])
    }

    /// What needs attention: containers set aside and directories without a record.
    func notices() -> [String]? {
        let setAside = invalid.values.sorted { $0.created < $1.created }.map { c in
            "container \(c.name.isEmpty ? c.id : c.name) set aside: \(c.reason)"
        }
        let unknown = unknownDirectories.map { name in
            "container directory \(configuration.containersRoot.appendingPathComponent(name).path) has no record; left as it is (`pier agent recover` takes it in)"
        }
        let all = setAside + unknown
        return all.isEmpty ? nil : all
    }
}
