import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a child's stdout and stderr until both close and it exits, or until a deadline (the
/// same reader as PierIntegrationTests': test targets share no code).
enum ProcessOutput {
    /// At the deadline the child is killed with SIGKILL (it may have inherited a blocked
    /// SIGTERM) and `timedOut` is true. A grandchild that keeps the pipes open after the child
    /// exited is not waited for beyond a short drain.
    static func collect(_ process: Process, stdout: Pipe, stderr: Pipe, timeout: TimeInterval) -> (stdout: Data, stderr: Data, timedOut: Bool) {
        var fds = [stdout.fileHandleForReading.fileDescriptor, stderr.fileHandleForReading.fileDescriptor]
        var data = [Data(), Data()]
        let deadline = Date().addingTimeInterval(timeout)
        var exitedAt: Date?
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            if exitedAt == nil && !process.isRunning { exitedAt = Date() }
            let open = fds.indices.filter { fds[$0] >= 0 }
            if let exitedAt, open.isEmpty || Date().timeIntervalSince(exitedAt) > 2 { break }
            if exitedAt == nil && Date() >= deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                continue
            }
            guard !open.isEmpty else { usleep(5_000); continue }
            var polls = open.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            guard poll(&polls, nfds_t(polls.count), 50) > 0 else { continue }
            for (k, i) in open.enumerated() where polls[k].revents != 0 {
                let n = read(fds[i], &buffer, buffer.count)
                if n > 0 {
                    data[i].append(contentsOf: buffer[0..<n])
                } else if n == 0 || errno != EINTR {
                    fds[i] = -1
                }
            }
        }
        process.waitUntilExit()
        return (data[0], data[1], timedOut)
    }
}
