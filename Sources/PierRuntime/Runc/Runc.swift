import PierSpec
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The runc command line, with Pier's own state directory (`--root <dataRoot>/runc`) so our
/// containers are apart from any other runc user's.
public struct Runc: Sendable {
    public var binary: String
    /// runc's state directory (`--root`).
    public var root: String

    public init(binary: String, root: String) {
        self.binary = binary; self.root = root
    }

    /// Finds runc: `$PIER_RUNC`, then PATH, then /usr/sbin/runc.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        var candidates: [String] = []
        if let explicit = environment["PIER_RUNC"], !explicit.isEmpty { candidates.append(explicit) }
        for dir in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/runc") }
        candidates += ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"]
        if let found = candidates.first(where: { access($0, X_OK) == 0 }) { return found }
        throw RuncError.binaryNotFound(searched: candidates)
    }

    /// Sends `signal` to the container's init (or, with `all`, to every process in it).
    public func kill(id: String, signal: Signal, all: Bool = false) async throws {
        var args = ["kill"]
        if all { args.append("--all") }
        args += [id, "\(signal.number)"]
        try await check(run(args), command: "kill", id: id)
    }

    /// Deletes the container's runc state (and with `force`, kills it first). A container runc
    /// does not know is not an error.
    public func delete(id: String, force: Bool = false) async throws {
        let result = try await run(["delete"] + (force ? ["--force"] : []) + [id])
        do {
            try check(result, command: "delete", id: id)
        } catch RuncError.containerNotFound {
            return
        }
    }

    /// The container's state as runc sees it.
    public func state(id: String) async throws -> RuncState {
        let result = try await run(["state", id])
        try check(result, command: "state", id: id)
        do {
            return try JSONDecoder().decode(RuncState.self, from: Data(result.stdout))
        } catch {
            throw RuncError.badOutput(command: "state", detail: "\(error)")
        }
    }

    /// Every container in our runc root.
    public func list() async throws -> [RuncState] {
        let result = try await run(["list", "--format", "json"])
        try check(result, command: "list", id: "")
        let text = result.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty || text == "null" { return [] }
        do {
            return try JSONDecoder().decode([RuncState].self, from: Data(text.utf8))
        } catch {
            throw RuncError.badOutput(command: "list", detail: "\(error)")
        }
    }

    /// Runs `process` in the running container (`runc exec --process`), passing its output to
    /// `output` as it comes. Returns its exit code (128 + N when killed by signal N; 126 or 127
    /// when it could not be started, as Docker). After `timeout` the process is killed and
    /// `RuncError.execTimedOut` thrown. `scratch` is a directory for the process file.
    public func exec(
        id: String, process: RuntimeSpec.Process, scratch: URL, timeout: Duration? = nil,
        output: @escaping @Sendable (ProcessOutput) -> Void
    ) async throws -> Int32 {
        let token = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let processFile = scratch.appendingPathComponent("exec-\(token).json")
        let pidFile = scratch.appendingPathComponent("exec-\(token).pid")
        let logFile = scratch.appendingPathComponent("exec-\(token).log")
        defer {
            for f in [processFile, pidFile, logFile] { unlink(f.path) }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        try SystemCalls.writeAtomically(try encoder.encode(process), to: processFile, mode: 0o600, durable: false)
        let args = [
            "--root", root, "--log", logFile.path, "--log-format", "json", "exec",
            "--process", processFile.path, "--pid-file", pidFile.path, id,
        ]
        let pidPath = pidFile.path
        let result = try await Subprocess.runAsync(
            binary, args, timeout: timeout,
            onTimeout: { runcPID in
                // Kill the process itself: runc exec then reports its death and exits.
                if let text = try? String(contentsOfFile: pidPath, encoding: .utf8),
                    let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
                {
                    Glibc.kill(pid, SIGKILL)
                } else {
                    Glibc.kill(runcPID, SIGKILL)
                }
            },
            output: output)
        if result.timedOut, let timeout {
            let c = timeout.components
            throw RuncError.execTimedOut(id: id, seconds: Double(c.seconds) + Double(c.attoseconds) / 1e18)
        }
        let code = result.exit.exitCode ?? 255
        if code != 0, let message = Self.errorMessage(inLog: logFile) {
            if message.contains("container does not exist") { throw RuncError.containerNotFound(id: id) }
            if message.contains("cannot exec in a stopped") || message.contains("not running") { throw RuncError.notRunning(id: id) }
            if message.contains("executable file not found") || message.contains("no such file or directory") { return 127 }
            if message.contains("permission denied") { return 126 }
        }
        return code
    }

    // MARK: Helpers

    func run(_ args: [String]) async throws -> Subprocess.Result {
        try await Subprocess.runAsync(binary, ["--root", root, "--log-format", "json"] + args, timeout: .seconds(60))
    }

    /// Throws the right `RuncError` for a failed runc invocation.
    func check(_ result: Subprocess.Result, command: String, id: String) throws {
        guard !result.succeeded else { return }
        let message = Self.errorMessage(inOutput: result.stderrText)
        let lower = message.lowercased()
        if lower.contains("container does not exist") || lower.contains("container not found") {
            throw RuncError.containerNotFound(id: id)
        }
        if lower.contains("not running") { throw RuncError.notRunning(id: id) }
        let status = result.timedOut ? "timed out" : result.exit.description
        throw RuncError.failed(command: command, id: id, status: status, message: message)
    }

    /// runc's error from its stderr: the `msg` of its last JSON error entry, else the last line.
    static func errorMessage(inOutput text: String) -> String {
        var message: String?
        var lastLine = ""
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            if trimmed.hasPrefix("{"), let data = trimmed.data(using: .utf8),
                let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let level = obj["level"] as? String, level == "error" || level == "fatal",
                let msg = obj["msg"] as? String
            {
                message = msg
            } else if !trimmed.hasPrefix("{") {
                lastLine = trimmed
            }
        }
        return message ?? (lastLine.isEmpty ? "no error message" : lastLine)
    }

    static func errorMessage(inLog url: URL) -> String? {
        guard let text = try? String(contentsOf: url, encoding: .utf8), !text.isEmpty else { return nil }
        let message = errorMessage(inOutput: text)
        return message == "no error message" ? nil : message
    }
}
