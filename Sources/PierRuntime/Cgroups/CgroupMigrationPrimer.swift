import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Starts, as soon as a container start is asked for, the wait the kernel makes the first
/// cgroup migration after a quiet spell pay, so that it overlaps the agent's own preparation
/// instead of lying on the start's critical path.
///
/// Moving a process into a cgroup (a write to `cgroup.procs`, v1 or v2) takes the kernel's
/// global `cgroup_threadgroup_rwsem` for writing. When no migration happened during the last
/// RCU grace period, taking it first waits for a whole grace period (its `rcu_sync`); later
/// migrations within about a grace period do not. runc moves every container's init into its
/// cgroup, so on an agent that was idle for a few tens of milliseconds each start waits there:
/// on the 2-core test machine `runc run` of `/bin/true` took 31 ms after a 30 ms pause against
/// 22 ms when some process migrated 5 ms before it (medians of 20, `perf` sched tracepoints).
///
/// `prime()` moves this process into the cgroup it is already in — nothing changes, but the
/// kernel takes the same lock — on a thread of its own, and returns at once. Best effort: the
/// first failure (no cgroupfs, a read-only one inside a container) turns it off. The kernel's
/// `favordynmods` cgroup mount option removes the wait for every process instead.
public final class CgroupMigrationPrimer: Sendable {
    /// This process's own `cgroup.procs` in one hierarchy; nil when not found.
    public let procsFile: String?
    private let state = Mutex(State())

    private struct State {
        var inFlight = false
        var disabled = false
    }

    /// Finds this process's cgroup under `root` (`/sys/fs/cgroup`): on v2 in the unified
    /// hierarchy, on v1 in the `pids` one (any hierarchy would do: the lock is global).
    public init(root: URL = URL(fileURLWithPath: "/sys/fs/cgroup"), version: Cgroups.Version = Cgroups.detectVersion()) {
        procsFile = Self.ownProcsFile(root: root, version: version)
    }

    init(procsFile: String?) { self.procsFile = procsFile }

    /// Starts a no-op migration of this process in the background, unless one is under way.
    public func prime() {
        guard let path = procsFile, state.withLock({ s in
            guard !s.inFlight, !s.disabled else { return false }
            s.inFlight = true
            return true
        }) else { return }
        // Not on Swift's cooperative pool: the write blocks for up to a grace period.
        Thread.detachNewThread { [self] in
            let ok = Self.migrateSelf(procsFile: path)
            state.withLock { s in
                s.inFlight = false
                if !ok { s.disabled = true }
            }
        }
    }

    /// Whether a failure turned priming off.
    public var isDisabled: Bool { state.withLock { $0.disabled } }

    /// Whether a migration started by `prime()` is still under way.
    public var isPriming: Bool { state.withLock { $0.inFlight } }

    /// Writes this process's pid to `procsFile`; false on any error.
    static func migrateSelf(procsFile: String) -> Bool {
        let fd = open(procsFile, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = Array("\(getpid())\n".utf8)
        return text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    }

    /// `<root>[/<controller>]/<own cgroup path>/cgroup.procs`, from `/proc/self/cgroup`.
    static func ownProcsFile(root: URL, version: Cgroups.Version, selfCgroup: String? = nil) -> String? {
        guard let text = selfCgroup ?? (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) else { return nil }
        for line in text.split(separator: "\n") {
            // hierarchy-id:controller-list:path
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            let path = String(fields[2])
            let base: URL
            switch version {
            case .v2:
                guard fields[0] == "0", fields[1].isEmpty else { continue }
                base = root
            case .v1:
                guard fields[1].split(separator: ",").contains("pids") else { continue }
                base = root.appendingPathComponent("pids")
            }
            let file = (path == "/" ? base : base.appendingPathComponent(String(path.dropFirst())))
                .appendingPathComponent("cgroup.procs").path
            return FileManager.default.fileExists(atPath: file) ? file : nil
        }
        return nil
    }
}
