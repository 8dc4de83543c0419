import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Starts `pier-shim` for a container and waits for its `ready <pid>` (or `error <message>`)
/// line. The shim is our child until this process ends; it survives that, and is watched with
/// `ProcessWatcher` either way.
public struct ShimLauncher: Sendable {
    public var shimPath: String
    /// How long runc may take to start a container.
    public var startTimeout: Duration

    public init(shimPath: String, startTimeout: Duration = .seconds(30)) {
        self.shimPath = shimPath; self.startTimeout = startTimeout
    }

    /// Finds `pier-shim`: `$PIER_SHIM`, then next to the running executable, then PATH.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        var candidates: [String] = []
        if let explicit = environment["PIER_SHIM"], !explicit.isEmpty { candidates.append(explicit) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("pier-shim").path)
        }
        for dir in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/pier-shim") }
        if let found = candidates.first(where: { access($0, X_OK) == 0 }) { return found }
        throw ShimError.binaryNotFound(searched: candidates)
    }

    /// Starts the shim and returns once the container runs (detached: its pid is known;
    /// foreground: runc has been started). If runc fails, waits for the shim to record the
    /// failure in the exit file and throws `ShimError.startFailed` with runc's message.
    public func launch(_ configuration: ShimConfiguration) async throws -> ShimHandle {
        let path = shimPath
        let timeout = startTimeout
        let (pid, reply) = try await onBlockingThread { () throws -> (pid_t, String?) in
            try Self.spawnAndRead(path: path, configuration: configuration, timeout: timeout)
        }
        let id = configuration.id
        guard let reply else {
            kill(pid, SIGKILL)
            _ = await ProcessWatcher.waitForExit(pid: pid)
            throw ShimError.timedOut(id: id, seconds: timeout.components.seconds)
        }
        if reply.hasPrefix("ready ") {
            guard let containerPID = Int32(reply.dropFirst(6)), containerPID >= 0 else {
                throw ShimError.badReply(id: id, line: reply)
            }
            return ShimHandle(shimPID: pid, containerPID: containerPID > 0 ? containerPID : nil)
        }
        // The shim ends by itself after recording the failure; reap it so no zombie remains.
        let exit = await ProcessWatcher.waitForExit(pid: pid)
        if reply.hasPrefix("error ") {
            throw ShimError.startFailed(id: id, message: String(reply.dropFirst(6)))
        }
        if reply.isEmpty {
            let log = (try? String(contentsOf: configuration.shimLog, encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(3).joined(separator: "; ")
            throw ShimError.exitedEarly(id: id, status: exit.description, shimLog: tail)
        }
        throw ShimError.badReply(id: id, line: reply)
    }

    /// Spawns the shim and reads its first line; nil on timeout, "" at EOF without a line.
    private static func spawnAndRead(path: String, configuration: ShimConfiguration, timeout: Duration) throws -> (pid_t, String?) {
        var pipeFDs: [Int32] = [-1, -1]
        guard SystemCalls.closeOnExecPipe(&pipeFDs) else { throw SubprocessError.pipeFailed(reason: SystemCalls.errorString(errno)) }
        let logFD = open(configuration.shimLog.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard logFD >= 0 else {
            let reason = SystemCalls.errorString(errno)
            close(pipeFDs[0]); close(pipeFDs[1])
            throw FileError.cannotWrite(configuration.shimLog.path, reason)
        }
        let pid: pid_t
        do {
            pid = try Subprocess.spawn(path, configuration.arguments, stdout: pipeFDs[1], stderr: logFD)
        } catch {
            close(pipeFDs[0]); close(pipeFDs[1]); close(logFD)
            throw error
        }
        close(pipeFDs[1])
        close(logFD)
        defer { close(pipeFDs[0]) }

        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let left = clock.now.duration(to: deadline)
            if left <= .zero { return (pid, nil) }
            var fds = [pollfd(fd: pipeFDs[0], events: Int16(POLLIN), revents: 0)]
            let ms = Int32(clamping: max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            let r = poll(&fds, 1, ms)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = buffer.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return (pid, String(decoding: line, as: UTF8.self)) }
            line += buffer[0..<n]
            if let nl = line.firstIndex(of: UInt8(ascii: "\n")) {
                return (pid, String(decoding: line[..<nl], as: UTF8.self))
            }
        }
    }
}
