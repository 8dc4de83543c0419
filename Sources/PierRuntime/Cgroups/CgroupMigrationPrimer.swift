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
/// kernel takes the same lock — on a thread of its own, and returns at once. Each time it first
/// finds that cgroup again from `/proc/self/cgroup` and checks that this process is listed in
/// its `cgroup.procs`, so it never moves the agent anywhere: not back after someone else moved
/// it, and not into a host cgroup that a cgroup namespace hides. Best effort: the first failure
/// (no cgroupfs, a read-only one inside a container, a mismatch) turns it off. The kernel's
/// `favordynmods` cgroup mount option removes the wait for every process instead.
public final class CgroupMigrationPrimer: Sendable {
    /// This process's own `cgroup.procs`, found anew for every migration; nil: none found.
    private let locate: @Sendable () -> String?
    private let state = Mutex(State())

    private struct State {
        var inFlight = false
        var disabled = false
        var migrations = 0
    }

    /// Looks for this process's cgroup under `root` (`/sys/fs/cgroup`): on v2 in the unified
    /// hierarchy; on v1 in the `pids` hierarchy, else a hybrid's `unified` one, else
    /// `name=systemd` (any will do: the lock is global).
    public convenience init(root: URL = URL(fileURLWithPath: "/sys/fs/cgroup"), version: Cgroups.Version = Cgroups.detectVersion()) {
        self.init { Self.ownProcsFile(root: root, version: version) }
    }

    init(locate: @escaping @Sendable () -> String?) { self.locate = locate }

    /// Starts a no-op migration of this process in the background, unless one is under way.
    public func prime() {
        guard state.withLock({ s in
            guard !s.inFlight, !s.disabled else { return false }
            s.inFlight = true
            return true
        }) else { return }
        // Not on Swift's cooperative pool: the write blocks for up to a grace period.
        Thread.detachNewThread { [self] in
            let ok = locate().map(Self.migrateSelf) ?? false
            state.withLock { s in
                s.inFlight = false
                if ok { s.migrations += 1 } else { s.disabled = true }
            }
        }
    }

    /// Whether a failure turned priming off.
    public var isDisabled: Bool { state.withLock { $0.disabled } }

    /// Whether a migration started by `prime()` is still under way.
    public var isPriming: Bool { state.withLock { $0.inFlight } }

    /// How many migrations `prime()` has done.
    public var migrations: Int { state.withLock { $0.migrations } }

    /// Writes this process's pid to `procsFile` if it is listed there already; false otherwise
    /// or on any error.
    static func migrateSelf(procsFile: String) -> Bool {
        let pid = "\(getpid())"
        guard let members = try? String(contentsOfFile: procsFile, encoding: .utf8),
            members.split(separator: "\n").contains(where: { $0 == pid })
        else { return false }
        let fd = open(procsFile, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let text = Array((pid + "\n").utf8)
        return text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.count
    }

    /// `<root>[/<hierarchy>]/<own cgroup path>/cgroup.procs`, from `/proc/self/cgroup`; the
    /// first candidate whose file exists.
    static func ownProcsFile(root: URL, version: Cgroups.Version, selfCgroup: String? = nil) -> String? {
        guard let text = selfCgroup ?? (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) else { return nil }
        // hierarchy-id:controller-list:path
        let entries = text.split(separator: "\n").compactMap { line -> (id: Substring, controllers: [Substring], path: String)? in
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { return nil }
            return (fields[0], fields[1].split(separator: ","), String(fields[2]))
        }
        let unified = entries.first { $0.id == "0" && $0.controllers.isEmpty }?.path
        var candidates: [(URL, String)] = []
        switch version {
        case .v2:
            if let unified { candidates.append((root, unified)) }
        case .v1:
            if let pids = entries.first(where: { $0.controllers.contains("pids") }) {
                candidates.append((root.appendingPathComponent("pids"), pids.path))
            }
            if let unified { candidates.append((root.appendingPathComponent("unified"), unified)) }
            if let systemd = entries.first(where: { $0.controllers.contains("name=systemd") }) {
                candidates.append((root.appendingPathComponent("systemd"), systemd.path))
            }
        }
        for (base, path) in candidates {
            let file = (path == "/" ? base : base.appendingPathComponent(String(path.dropFirst())))
                .appendingPathComponent("cgroup.procs").path
            if FileManager.default.fileExists(atPath: file) { return file }
        }
        return nil
    }
}
