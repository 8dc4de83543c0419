import Foundation

/// Everything one shim needs to start and watch one container.
public struct ShimConfiguration: Sendable, Equatable {
    public var id: String
    /// The OCI bundle (holds `config.json`; runc.log is written there).
    public var bundle: URL
    public var runcPath: String
    /// runc's `--root`.
    public var runcRoot: URL
    /// The container's CRI-format log.
    public var logPath: URL
    public var exitFile: URL
    public var pidFile: URL
    /// One `runc run` for the container's whole life (no separate delete); see `pier run --rm`.
    public var foreground: Bool
    /// Rotate the log past this size; nil: never.
    public var logMaxSize: Int64?
    /// Log files kept, the current one included.
    public var logMaxFiles: Int?
    /// The shim's own diagnostics (its stderr).
    public var shimLog: URL

    public init(
        id: String, bundle: URL, runcPath: String, runcRoot: URL, logPath: URL, exitFile: URL, pidFile: URL,
        foreground: Bool = false, logMaxSize: Int64? = nil, logMaxFiles: Int? = nil, shimLog: URL
    ) {
        self.id = id; self.bundle = bundle; self.runcPath = runcPath; self.runcRoot = runcRoot; self.logPath = logPath
        self.exitFile = exitFile; self.pidFile = pidFile; self.foreground = foreground; self.logMaxSize = logMaxSize
        self.logMaxFiles = logMaxFiles; self.shimLog = shimLog
    }

    /// The shim's command line.
    public var arguments: [String] {
        var args = [
            "--id", id, "--bundle", bundle.path, "--runc", runcPath, "--runc-root", runcRoot.path,
            "--log", logPath.path, "--exit-file", exitFile.path, "--pid-file", pidFile.path,
        ]
        if foreground { args.append("--foreground") }
        if let logMaxSize { args += ["--log-max-size", "\(logMaxSize)"] }
        if let logMaxFiles { args += ["--log-max-files", "\(logMaxFiles)"] }
        return args
    }
}
