import Foundation
import Glibc
import NIOCore
import NIOPosix

/// The real peers these tests talk to, and how to start them.
enum Peers {
    /// `coap-client-notls` and `coap-server-notls` come from Debian's `libcoap3-bin`.
    static let libcoapMissing = "libcoap3-bin is not installed (coap-client-notls, coap-server-notls); run scripts/setup.sh --no-build"
    /// aiocoap comes from PyPI.
    static let aiocoapMissing = "aiocoap is not installed for python3; run scripts/setup.sh --no-build (pip install aiocoap)"

    static let coapClient = which("coap-client-notls")
    static let coapServer = which("coap-server-notls")
    static let python = which("python3")
    static let hasLibcoap = coapClient != nil && coapServer != nil
    static let hasAiocoap: Bool = {
        guard let python else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import aiocoap, aiocoap.cli.client"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// This test folder, where the helper scripts live.
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The directory holding the test runner, where SwiftPM also puts the package's executables.
    static let buildDirectory: URL = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // On Darwin the runner sits inside PierPackageTests.xctest/Contents/MacOS.
        while dir.path.contains(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir
    }()

    static func which(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago, for peers that cannot report the one they bound.
    static func freePort() async throws -> Int {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port
        try await channel.close()
        guard let port else { throw PeerError.noPort("probe socket") }
        return port
    }

    static func address(_ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: port) }
}

enum PeerError: Error, CustomStringConvertible {
    case noPort(String)
    case notReady(String, output: String)
    case timedOut(String, output: String)

    var description: String {
        switch self {
        case .noPort(let what): "\(what) has no local port"
        case .notReady(let what, let output): "\(what) did not become ready; its output: \(output)"
        case .timedOut(let what, let output): "\(what) did not finish in time; its output: \(output)"
        }
    }
}

/// The outcome of a finished peer process.
struct PeerOutput: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var all: String { stdout + stderr }
    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// A child process with its output going to temporary files (no pipe to fill up).
final class PeerProcess: @unchecked Sendable {
    let process = Process()
    let name: String
    private let outURL: URL
    private let errURL: URL

    init(_ executable: String, _ arguments: [String], stdin: URL? = nil) throws {
        name = ([URL(fileURLWithPath: executable).lastPathComponent] + arguments).joined(separator: " ")
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        outURL = dir.appendingPathComponent("pier-coap-\(id).out")
        errURL = dir.appendingPathComponent("pier-coap-\(id).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = try stdin.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONWARNINGS"] = "ignore"
        process.environment = env
        try process.run()
    }

    deinit {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: outURL)
        try? FileManager.default.removeItem(at: errURL)
    }

    var stdout: String { (try? String(contentsOf: outURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }
    var output: PeerOutput { PeerOutput(status: process.isRunning ? -1 : process.terminationStatus, stdout: stdout, stderr: stderr) }

    /// Waits until stdout contains `marker`, or fails after `timeout` seconds or if the process exits.
    func waitForOutput(_ marker: String, timeout: Double = 10) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if stdout.contains(marker) { return }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PeerError.notReady(name, output: output.description)
    }

    /// Waits for the process to exit; after `timeout` seconds it is terminated and this throws.
    @discardableResult
    func wait(timeout: Double = 30) async throws -> PeerOutput {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                _ = Glibc.kill(process.processIdentifier, SIGKILL)
                throw PeerError.timedOut(name, output: output.description)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return output
    }

    /// Stops the process (SIGINT, then SIGKILL after a second) and returns what it printed.
    /// Never blocks a thread: a peer that ignores signals must not stall the test runner.
    @discardableResult
    func stop() async -> PeerOutput {
        if process.isRunning { process.interrupt() }
        for _ in 0..<50 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
        return output
    }

    /// Kills the process at once (for servers, whose output no longer matters).
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// Runs a tool to completion.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 30) async throws -> PeerOutput {
        try await PeerProcess(executable, arguments).wait(timeout: timeout)
    }
}
