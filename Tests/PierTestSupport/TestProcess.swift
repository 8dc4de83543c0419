import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program with its stdout and stderr captured, reading both as they fill, until it exits
/// or a deadline passes: the runner of every test that starts a program.
/// Spawned directly and reaped here, not through Foundation's `Process`, which learns of an exit
/// only once every descendant has closed a descriptor it hands down, and so waits on any
/// grandchild that outlives the program.
public enum TestProcess {
    public struct Result: Sendable {
        /// The exit code, or the number of the signal that ended the program.
        public var status: Int32
        public var stdout: Data
        public var stderr: Data
        /// The deadline passed and the program was killed with SIGKILL.
        public var timedOut: Bool
    }

    public struct SpawnFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Runs `path` with `arguments` and `environment`; stdin is /dev/null unless `inheritStdin`.
    /// The child starts with no signal blocked (the test runner blocks SIGTERM). At `timeout`
    /// seconds it is killed with SIGKILL; once it exited, a grandchild that keeps the pipes open
    /// is not waited for beyond a short drain.
    public static func run(_ path: String, _ arguments: [String], environment: [String: String], timeout: TimeInterval, inheritStdin: Bool = false) throws -> Result {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw SpawnFailed(description: "pipe: \(String(cString: strerror(errno)))")
        }
        // Only the dup2'd copies reach the program.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !inheritStdin { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0])
            close(errPipe[0])
            throw SpawnFailed(description: "\(path): \(String(cString: strerror(spawned)))")
        }
        defer { close(outPipe[0]); close(errPipe[0]) }

        var fds = [outPipe[0], errPipe[0]]
        var data = [Data(), Data()]
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32?
        var exitedAt: Date?
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        func reap(blocking: Bool) {
            var raw: Int32 = 0
            var got: pid_t
            repeat { got = waitpid(pid, &raw, blocking ? 0 : WNOHANG) } while got < 0 && errno == EINTR
            guard got == pid else { return }
            status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : raw & 0x7f
            exitedAt = Date()
        }
        while true {
            if status == nil { reap(blocking: false) }
            let open = fds.indices.filter { fds[$0] >= 0 }
            if let exitedAt, open.isEmpty || Date().timeIntervalSince(exitedAt) > 2 { break }
            if status == nil && Date() >= deadline {
                timedOut = true
                kill(pid, SIGKILL)
                reap(blocking: true)
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
        return Result(status: status ?? -1, stdout: data[0], stderr: data[1], timedOut: timedOut)
    }
}
