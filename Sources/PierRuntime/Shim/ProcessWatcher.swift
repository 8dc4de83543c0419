import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Waits for processes to end, whether they are children of this process (they are reaped)
/// or not (a shim started by a previous agent). Uses a pidfd (Linux ≥ 5.3) watched by a
/// Dispatch source, so no thread is blocked per watched process.
public enum ProcessWatcher {
    private static let queue = DispatchQueue(label: "pier.process-watcher")

    /// Returns when process `pid` has ended. Children are reaped and their status returned.
    /// Not cancellable: it returns only when the process is gone.
    public static func waitForExit(pid: Int32) async -> ProcessExit {
        guard pid > 0 else { return .unknown }
        guard let pidfdOpen = SystemCalls.pidfdOpen else { return await pollForExit(pid: pid) }
        let fd = pidfdOpen(pid, 0)
        if fd < 0 {
            if errno == ENOSYS { return await pollForExit(pid: pid) }
            // ESRCH: already gone. A child that is a zombie is still reapable.
            return reapIfChild(pid, wait: false) ?? .unknown
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<ProcessExit, Never>) in
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setEventHandler { source.cancel() }
            source.setCancelHandler {
                close(fd)
                continuation.resume(returning: reapIfChild(pid, wait: false) ?? .unknown)
            }
            source.resume()
        }
    }

    /// Whether `pid` still runs (a zombie counts as ended).
    public static func isRunning(pid: Int32) -> Bool {
        guard pid > 0, SystemCalls.processExists(pid) else { return false }
        guard let stat = SystemCalls.readText("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
        return !(rest.hasPrefix("Z") || rest.hasPrefix("X"))
    }

    /// Reaps `pid` if it is our child and has ended; nil if it is not our child.
    static func reapIfChild(_ pid: pid_t, wait: Bool) -> ProcessExit? {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, wait ? 0 : WNOHANG)
            if r == pid { return SystemCalls.exit(fromWaitStatus: status) }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            return nil
        }
    }

    /// Fallback for kernels without pidfd: checks every 100 ms.
    private static func pollForExit(pid: pid_t) async -> ProcessExit {
        while true {
            if let exit = reapIfChild(pid, wait: false) { return exit }
            if !isRunning(pid: pid) { return reapIfChild(pid, wait: false) ?? .unknown }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
