import Foundation

/// Runs the host's network tools (`ip`, `bridge`, `wg`, `iptables`, `sysctl`) for the cluster
/// mesh: in this process's network namespace, or in the one at `namespacePath` through
/// `nsenter --net` (several simulated nodes on one machine), and starts the long-running ones
/// (`wireguard-go`) there too.
public struct HostNetworkCommands: Sendable {
    /// A network namespace to run in (`/run/netns/NAME`); nil: this process's.
    public var namespacePath: String?
    public var timeout: Duration

    public init(namespacePath: String? = nil, timeout: Duration = .seconds(30)) {
        self.namespacePath = namespacePath; self.timeout = timeout
    }

    /// How a tool ended.
    public struct Output: Sendable {
        public var succeeded: Bool
        public var stdout: String
        public var stderr: String
        /// The command line, for messages.
        public var command: String
        /// The error output, trimmed, or how the process ended when it wrote none.
        public var problem: String
    }

    /// Where a tool is: the usual system directories, then PATH; nil when absent.
    public static func locate(_ tool: String) -> String? {
        if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for directory in ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/local/bin"] + path {
            let candidate = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// `tool arguments…`, with `input` on its standard input.
    public func run(_ tool: String, _ arguments: [String], input: String? = nil) -> Output {
        let line = ([tool] + arguments).joined(separator: " ")
        guard let (binary, argv) = resolve(tool, arguments) else {
            return Output(succeeded: false, stdout: "", stderr: "", command: line, problem: "\(tool) is not installed")
        }
        do {
            let r = try Subprocess.run(binary, argv, input: input.map { Array($0.utf8) }, timeout: timeout)
            var problem = r.stderrText.trimmingCharacters(in: .whitespacesAndNewlines)
            if problem.isEmpty { problem = r.timedOut ? "timed out" : r.exit.description }
            return Output(succeeded: r.succeeded, stdout: r.stdoutText, stderr: r.stderrText, command: line, problem: problem)
        } catch {
            return Output(succeeded: false, stdout: "", stderr: "", command: line, problem: "\(error)")
        }
    }

    /// Starts `tool` in the background (its output to `logPath`, or discarded) and returns its
    /// pid. Through `nsenter`, which execs the tool, the pid is the tool's own.
    public func spawn(_ tool: String, _ arguments: [String], environment: [String: String] = [:], logPath: String? = nil) throws -> Int32 {
        guard let (binary, argv) = resolve(tool, arguments) else { throw NetworkError.badConfiguration("\(tool) is not installed") }
        var log: Int32? = nil
        if let logPath {
            let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if fd >= 0 { log = fd }
        }
        defer { if let log { close(log) } }
        return try Subprocess.spawn(binary, argv, environment: Subprocess.environment(environment), stdout: log, stderr: log)
    }

    private func resolve(_ tool: String, _ arguments: [String]) -> (String, [String])? {
        guard let binary = Self.locate(tool) else { return nil }
        guard let namespacePath else { return (binary, arguments) }
        guard let nsenter = Self.locate("nsenter") else { return nil }
        return (nsenter, ["--net=\(namespacePath)", "--", binary] + arguments)
    }
}
