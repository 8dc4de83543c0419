import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Runs helper programs with `posix_spawn`: a clean signal mask and default signal
/// dispositions (the agent's ignored SIGPIPE must not reach runc or the container),
/// close-on-exec pipes, an optional deadline.
enum Subprocess {
    /// How a finished subprocess ended, and what it wrote.
    struct Result: Sendable {
        var exit: ProcessExit
        var stdout: [UInt8]
        var stderr: [UInt8]
        var timedOut: Bool

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        var succeeded: Bool { exit == .exited(0) && !timedOut }
    }

    /// Writing to a pipe whose reader died must fail with EPIPE, not kill the agent.
    private static let sigpipeIgnored: Bool = {
        signal(SIGPIPE, SIG_IGN)
        return true
    }()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), looked up at run time
    /// because the C module does not declare it.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Closes, in the child, every descriptor above stdio that is not close-on-exec. A daemon the
    /// agent starts (wireguard-go, dnsmasq) outlives it and must not hold what the agent was
    /// handed: a supervisor's pipe, a socket, the descriptor by which `Process` waits for the agent.
    private static func closeInherited(_ actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom, addCloseFrom(&actions, 3) == 0 { return }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.compactMap { Int32($0) } ?? []
        for fd in open where fd > 2 && fcntl(fd, F_GETFD) >= 0 && fcntl(fd, F_GETFD) & FD_CLOEXEC == 0 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }

    /// Starts `path` with the given descriptors as its stdio (nil: /dev/null) and returns its pid;
    /// nothing else the caller holds reaches it (see `closeInherited`).
    static func spawn(
        _ path: String, _ arguments: [String], environment: [String]? = nil,
        stdin: Int32? = nil, stdout: Int32? = nil, stderr: Int32? = nil
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in [(Int32(0), stdin), (Int32(1), stdout), (Int32(2), stderr)] {
            if let source {
                posix_spawn_file_actions_adddup2(&actions, source, target)
            } else {
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_RDWR, 0)
            }
        }
        closeInherited(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let env = environment ?? ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard rc == 0 else { throw SubprocessError.spawnFailed(path: path, reason: SystemCalls.errorString(rc)) }
        return pid
    }

    /// The current environment with `overrides` applied, as `KEY=VALUE` entries.
    static func environment(_ overrides: [String: String]) -> [String] {
        var env = ProcessInfo.processInfo.environment
        for (k, v) in overrides { env[k] = v }
        return env.map { "\($0.key)=\($0.value)" }
    }

    /// Runs `path` to completion, feeding it `input` and collecting its output (or passing each
    /// chunk to `output`). At `timeout`, `onTimeout` is called with the pid (default: SIGKILL);
    /// five seconds later the process is killed regardless.
    static func run(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil,
        timeout: Duration? = nil, onTimeout: ((pid_t) -> Void)? = nil, output: ((ProcessOutput) -> Void)? = nil
    ) throws -> Result {
        _ = sigpipeIgnored
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1], inPipe: [Int32] = [-1, -1]
        func closeAll() { for fd in outPipe + errPipe + inPipe where fd >= 0 { close(fd) } }
        guard SystemCalls.closeOnExecPipe(&outPipe), SystemCalls.closeOnExecPipe(&errPipe),
            input == nil || SystemCalls.closeOnExecPipe(&inPipe)
        else {
            let reason = SystemCalls.errorString(errno)
            closeAll()
            throw SubprocessError.pipeFailed(reason: reason)
        }
        let pid: pid_t
        do {
            pid = try spawn(
                path, arguments, environment: Self.environment(environment),
                stdin: input == nil ? nil : inPipe[0], stdout: outPipe[1], stderr: errPipe[1])
        } catch {
            closeAll()
            throw error
        }
        close(outPipe[1]); outPipe[1] = -1
        close(errPipe[1]); errPipe[1] = -1
        if input != nil { close(inPipe[0]); inPipe[0] = -1 }
        var stdinFD = inPipe[1]
        inPipe[1] = -1
        var readFDs = [outPipe[0], errPipe[0]]
        outPipe[0] = -1; errPipe[0] = -1
        for fd in readFDs + [stdinFD] where fd >= 0 { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }

        var pending = input ?? []
        var collected: [[UInt8]] = [[], []]
        var timedOut = false
        let clock = ContinuousClock()
        var deadline = timeout.map { clock.now + $0 }
        var killDeadline: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65536)

        while readFDs.contains(where: { $0 >= 0 }) {
            var fds: [pollfd] = []
            for fd in readFDs where fd >= 0 { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if stdinFD >= 0 { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            var waitMS: Int32 = -1
            if let d = killDeadline ?? deadline {
                let left = clock.now.duration(to: d)
                if left <= .zero {
                    if killDeadline == nil {
                        timedOut = true
                        if let onTimeout { onTimeout(pid) } else { kill(pid, SIGKILL) }
                        killDeadline = clock.now + .seconds(5)
                        deadline = nil
                        continue
                    }
                    kill(pid, SIGKILL)
                    break
                }
                let ms = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                waitMS = Int32(clamping: max(1, ms))
            }
            let r = poll(&fds, nfds_t(fds.count), waitMS)
            if r < 0 {
                if errno == EINTR { continue }
                break
            }
            for p in fds where p.revents != 0 {
                if p.fd == stdinFD {
                    let n = pending.withUnsafeBytes { write(stdinFD, $0.baseAddress, $0.count) }
                    if n > 0 { pending.removeFirst(n) }
                    if pending.isEmpty || (n < 0 && errno != EAGAIN && errno != EINTR) {
                        close(stdinFD)
                        stdinFD = -1
                    }
                    continue
                }
                guard let which = readFDs.firstIndex(of: p.fd) else { continue }
                let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let chunk = Array(buffer[0..<n])
                    if let output {
                        output(which == 0 ? .stdout(chunk) : .stderr(chunk))
                    } else {
                        collected[which].append(contentsOf: chunk)
                    }
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    close(p.fd)
                    readFDs[which] = -1
                }
            }
            if stdinFD >= 0 && pending.isEmpty {
                close(stdinFD)
                stdinFD = -1
            }
        }
        for fd in readFDs + [stdinFD] where fd >= 0 { close(fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return Result(exit: .unknown, stdout: collected[0], stderr: collected[1], timedOut: timedOut) }
        }
        return Result(exit: SystemCalls.exit(fromWaitStatus: status), stdout: collected[0], stderr: collected[1], timedOut: timedOut)
    }

    /// `run` on a Dispatch thread.
    static func runAsync(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], input: [UInt8]? = nil,
        timeout: Duration? = nil, onTimeout: (@Sendable (pid_t) -> Void)? = nil,
        output: (@Sendable (ProcessOutput) -> Void)? = nil
    ) async throws -> Result {
        try await onBlockingThread {
            try run(
                path, arguments, environment: environment, input: input, timeout: timeout,
                onTimeout: onTimeout, output: output)
        }
    }
}
