import Foundation

/// Recognizes a running shim after an agent restart, so a reused pid is not mistaken for it.
public enum ShimProcess {
    /// Whether `pid` is a live `pier-shim` for container `id`.
    public static func isAlive(pid: Int32, id: String) -> Bool {
        guard ProcessWatcher.isRunning(pid: pid),
            let data = SystemCalls.readFile("/proc/\(pid)/cmdline")
        else { return false }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let first = args.first, first.hasSuffix("pier-shim") else { return false }
        guard let i = args.firstIndex(of: "--id"), i + 1 < args.count else { return false }
        return args[i + 1] == id
    }
}
