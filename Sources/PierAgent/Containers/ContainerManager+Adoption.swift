import Foundation
import PierAPI

extension ContainerManager {
    /// Picks up where a previous agent left off: containers whose shim still runs are
    /// watched again; those that ended meanwhile get their exit recorded and their restart
    /// policy applied; half-made containers from a crash are cleaned away.
    func adopt() async {
        // First: the containers' teardowns below may hand pooled namespaces back.
        for problem in await runtime.recoverStandby() {
            logger.warning("network pool: \(problem)")
        }
        let records = (try? database.all()) ?? []
        let known = Set(records.map(\.id))
        for r in records {
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
        // Directories of containers that never made it into the database.
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: configuration.containersRoot.path)) ?? []
        for name in entries where !known.contains(name) {
            let dir = configuration.containersRoot.appendingPathComponent(name)
            await cleanup(name)
            try? FileManager.default.removeItem(at: dir)
        }
    }
}
