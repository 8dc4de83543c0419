import PierTestSupport
import Foundation
import Testing

/// Where the built `pier` and `pier-shim` are: `PIER_BIN_DIR`, else the directory of the
/// running test bundle (`.build/debug`).
enum Binaries {
    static var directory: URL {
        if let dir = ProcessInfo.processInfo.environment["PIER_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("pier").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }
    static var pier: URL { directory.appendingPathComponent("pier") }
    static var shim: URL { directory.appendingPathComponent("pier-shim") }
}

/// What every integration test needs: root, the tools the agent and these tests start, and the
/// built `pier` and `pier-shim`.
enum IntegrationHost {
    static let tools = [
        "/usr/sbin/runc", "/bin/busybox", "/usr/sbin/ip", "/usr/bin/nsenter", "/usr/sbin/iptables-save", "/usr/sbin/tc",
        "/usr/bin/curl", "/usr/bin/openssl", "/usr/bin/ss", "/usr/bin/coap-client-notls", "/usr/bin/python3",
        "/usr/sbin/dnsmasq",
    ]
    static let missing: [String] = (Requirement.isRoot ? [] : ["root"])
        + (tools + [Binaries.pier.path, Binaries.shim.path]).filter { !Requirement.executable($0) }
    static let what = "root, runc, busybox-static, iproute2, util-linux, iptables, curl, openssl, libcoap3-bin, python3, dnsmasq-base and the built pier and pier-shim"
}

extension Trait where Self == ConditionTrait {
    /// The integration tests' requirement (see `IntegrationHost`).
    static var integrationHost: Self { .requires(IntegrationHost.missing.isEmpty, IntegrationHost.what + " (missing: \(IntegrationHost.missing.joined(separator: ", ")))") }
}

struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion and captures its output. Both pipes are read as they fill, so
/// the deadline holds even while the program keeps them open: at `timeout` seconds it is killed
/// (SIGKILL), an issue is recorded (unless `timeoutIsFailure` is false, for probes that are
/// retried) and `TestFailure` is thrown, so a hung command fails its test instead of hanging the suite.
@discardableResult
func runProcess(
    _ path: String, _ args: [String], env: [String: String] = [:], timeout: TimeInterval = 120, timeoutIsFailure: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> CommandResult {
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    let output = try TestProcess.run(path, args, environment: environment, timeout: timeout)
    let result = CommandResult(status: output.status, stdout: String(decoding: output.stdout, as: UTF8.self),
                               stderr: String(decoding: output.stderr, as: UTF8.self))
    if output.timedOut {
        let message = "\(path) \(args.joined(separator: " ")) was still running after \(Int(timeout)) s and was killed; stderr: \(result.stderr.suffix(2000))"
        if timeoutIsFailure { Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation) }
        throw TestFailure(message)
    }
    return result
}

/// Polls `condition` until it holds or `timeout` seconds pass; returns whether it held.
func waitUntil(_ timeout: TimeInterval, every interval: TimeInterval = 0.05, _ condition: () throws -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    repeat {
        if (try? condition()) == true { return true }
        usleep(useconds_t(interval * 1_000_000))
    } while Date() < deadline
    return (try? condition()) == true
}

/// A real `pier agent` on a temporary data root, and the CLI pointed at it.
final class TestAgent: @unchecked Sendable {
    let root: URL
    let socket: String
    /// Each test agent has its own bridge and subnet, so it never meets another agent's
    /// containers (a `pier agent` on this host, or another test).
    let bridge: String
    let subnetPrefix: String
    private(set) var process: Process?
    /// Extra arguments of every `pier agent` start (e.g. `--coap`).
    let arguments: [String]
    /// The agent's umask, when not the test process's (e.g. 0o077: everything it makes is private).
    let umask: mode_t?

    /// The bridge's own address: published ports answer here.
    var gateway: String { subnetPrefix + ".1" }

    init(arguments: [String] = [], umask: mode_t? = nil) throws {
        self.arguments = arguments
        self.umask = umask
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-it-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        socket = root.appendingPathComponent("pier.sock").path
        bridge = "pit" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8)).lowercased()
        subnetPrefix = "10.214.\(Int.random(in: 0...255))"
        try start()
    }

    var host: String { "unix://" + socket }

    func start() throws {
        let p = Process()
        p.executableURL = Binaries.pier
        p.arguments = ["agent", "--data-root", root.path, "--listen", host, "--shim", Binaries.shim.path,
                       "--bridge", bridge, "--bridge-subnet", subnetPrefix + ".0/24"] + arguments
        if let umask {
            p.arguments = ["-c", "umask \(String(umask, radix: 8)) && exec \"$0\" \"$@\"", Binaries.pier.path] + (p.arguments ?? [])
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
        }
        let log = root.appendingPathComponent("agent.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socket),
                (try? runProcess(Binaries.pier.path, ["info"], env: ["PIER_HOST": host], timeout: 10, timeoutIsFailure: false))?.status == 0 { return }
            guard p.isRunning else { break }
            usleep(50_000)
        }
        throw TestFailure("agent did not come up; its log:\n" + ((try? String(contentsOf: log, encoding: .utf8)) ?? ""))
    }

    /// SIGKILL, as a crash or the OOM killer would.
    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// SIGTERM, and SIGKILL (with an issue) if the agent has not stopped within a minute.
    func stopGracefully(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let p = process, p.isRunning else { return }
        p.terminate()
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning {
            Issue.record("the agent did not stop within 60 s of SIGTERM; killed", sourceLocation: sourceLocation)
            kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
        process = nil
    }

    @discardableResult
    func pier(_ args: String..., timeout: TimeInterval = 120) throws -> CommandResult {
        try pier(args, timeout: timeout)
    }

    @discardableResult
    func pier(_ args: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        try runProcess(Binaries.pier.path, args, env: ["PIER_HOST": host], timeout: timeout)
    }

    /// Like `pier`, but records a test issue when the command fails.
    @discardableResult
    func ok(_ args: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let r = try pier(args)
        #expect(r.status == 0, "pier \(args.joined(separator: " ")) failed: \(r.stderr)", sourceLocation: sourceLocation)
        return r.stdout
    }

    /// Mount points below the data root (should be none once containers are gone).
    func mountsBelowRoot() -> [String] {
        // Read to the end: a /proc file reports no size, and String(contentsOfFile:) reads only its first page.
        let mounts = String(decoding: (try? FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/mountinfo")).readToEnd()) ?? Data(), as: UTF8.self)
        return mounts.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            return f.count > 4 && f[4].hasPrefix(root.path) ? String(f[4]) : nil
        }
    }

    /// Removes every container, stops the agent and deletes the data root.
    func tearDown() {
        if process == nil { try? start() }
        if let ids = try? pier("ps", "-a", "-q").stdout.split(separator: "\n") {
            for id in ids { _ = try? pier("rm", "-f", String(id)) }
        }
        stopGracefully()
        for m in mountsBelowRoot().reversed() { umount2(m, Int32(MNT_DETACH)) }
        if FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", bridge])
        }
        try? FileManager.default.removeItem(at: root)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Makes a small busybox image in the agent's store (`FROM scratch` + /bin/busybox + links).
func makeBusyboxImage(_ agent: TestAgent, tag: String = "test/busybox:1") throws {
    let ctx = agent.root.appendingPathComponent("ctx-\(UUID().uuidString.prefix(6))")
    let bin = ctx.appendingPathComponent("bin")
    try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bin.appendingPathComponent("busybox").path)
    for tool in ["sh", "true", "false", "echo", "cat", "sleep", "ls", "id", "touch", "httpd", "nc", "wget", "hostname", "env", "ps", "kill", "head", "dd", "mount", "wc", "grep", "sed"] {
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path, withDestinationPath: "busybox")
    }
    let etc = ctx.appendingPathComponent("etc")
    try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
    try "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".write(to: etc.appendingPathComponent("passwd"), atomically: true, encoding: .utf8)
    try "root:x:0:\nnogroup:x:65534:\n".write(to: etc.appendingPathComponent("group"), atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: ctx) }
    try agent.ok("image", "build", "--tag", tag, "--from", "scratch", "--add", "\(bin.path):/bin", "--add", "\(etc.path):/etc",
                 "--env", "PATH=/bin", "--cmd", "[\"/bin/sh\"]")
}
