import PierSpec
import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Shared helpers: root check, the shim binary, busybox root filesystems, temp directories.
enum TestSupport {
    static let isRoot = geteuid() == 0
    static let hasRunc = (try? Runc.locate()) != nil
    /// Integration tests start real containers: root, runc and busybox-static are needed.
    static let canRunContainers = isRoot && hasRunc && FileManager.default.fileExists(atPath: "/bin/busybox")

    struct MissingShim: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "pier-shim not found (looked in \(searched.joined(separator: ", "))): build it with "
                + "`PIER_ONLY=PierRuntimeTests,pier-shim swift build --product pier-shim --scratch-path <scratch>` or set PIER_SHIM"
        }
    }

    /// `$PIER_SHIM`, else `.../debug/pier-shim` found by walking up from the test binary.
    static func shimPath() throws -> String {
        var searched: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["PIER_SHIM"], !explicit.isEmpty {
            if FileManager.default.isExecutableFile(atPath: explicit) { return explicit }
            searched.append(explicit)
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while dir.path != "/" {
            for candidate in [dir.appendingPathComponent("pier-shim"), dir.appendingPathComponent("debug/pier-shim")] {
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
                searched.append(candidate.path)
            }
            dir = dir.deletingLastPathComponent()
        }
        throw MissingShim(searched: Array(searched.prefix(4)))
    }

    /// A fresh directory under /tmp.
    static func makeTempDirectory(_ prefix: String = "pier-runtime-test") throws -> URL {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let result = mkdtemp(&template) else { throw POSIXError(.EIO) }
        return URL(fileURLWithPath: String(cString: result))
    }

    /// A random 64-hex-digit container id (as the agent makes them).
    static func newID() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    static let passwd = """
        root:x:0:0:root:/root:/bin/sh
        daemon:x:1:1:daemon:/usr/sbin:/bin/false
        app:x:1000:1000:App User:/home/app:/bin/sh
        nobody:x:65534:65534:nobody:/nonexistent:/bin/false

        """

    static let group = """
        root:x:0:
        daemon:x:1:
        dialout:x:20:app
        audio:x:29:app,nobody
        app:x:1000:
        staff:x:50:
        nogroup:x:65534:

        """

    /// A root filesystem of busybox-static with every applet linked, and a minimal
    /// /etc/passwd and /etc/group.
    static func makeBusyboxLayer(at dir: URL) throws {
        let fm = FileManager.default
        for sub in ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home/app", "var/www"] {
            try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "/bin/busybox", toPath: dir.appendingPathComponent("bin/busybox").path)
        let list = try Subprocess.run("/bin/busybox", ["--list-full"])
        for applet in list.stdoutText.split(separator: "\n") where applet != "bin/busybox" {
            let link = dir.appendingPathComponent(String(applet))
            if !fm.fileExists(atPath: link.path) {
                try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "/bin/busybox")
            }
        }
        try passwd.write(to: dir.appendingPathComponent("etc/passwd"), atomically: true, encoding: .utf8)
        try group.write(to: dir.appendingPathComponent("etc/group"), atomically: true, encoding: .utf8)
        chmod(dir.appendingPathComponent("tmp").path, 0o1777)
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes.
    static func waitUntil(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try condition()
    }
}

/// One CRI log entry: `2026-01-02T15:04:05.123456789Z stdout F text`.
struct CRILogLine: Equatable {
    var stream: String
    var tag: String
    var text: String

    /// Parses a log file; a line that is not in CRI form fails the test.
    static func parse(_ url: URL) throws -> [CRILogLine] {
        let content = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return try content.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0].count == 30, parts[0].hasSuffix("Z"), parts[0].dropFirst(19).first == ".",
                ExitRecord.parseTimestamp(String(parts[0])) != nil,
                parts[1] == "stdout" || parts[1] == "stderr", parts[2] == "F" || parts[2] == "P"
            else {
                throw BadLine(line: String(line))
            }
            return CRILogLine(stream: String(parts[1]), tag: String(parts[2]), text: parts.count > 3 ? String(parts[3]) : "")
        }
    }

    struct BadLine: Error, CustomStringConvertible {
        var line: String
        var description: String { "not a CRI log line: \(line)" }
    }
}

/// A temp directory with a busybox layer and a runtime whose state lives inside it.
/// `destroy()` removes every container, mount, network and file it made.
struct Sandbox {
    let root: URL
    let layer: URL
    let runtime: RuncRuntime

    /// `configure` may change the runtime's configuration (its data root is `root/data`).
    init(network: NetworkConfiguration = Sandbox.testNetwork, configure: (inout RuntimeConfiguration) -> Void = { _ in }) throws {
        root = try TestSupport.makeTempDirectory()
        layer = root.appendingPathComponent("layers/busybox")
        try TestSupport.makeBusyboxLayer(at: layer)
        var configuration = RuntimeConfiguration(
            dataRoot: root.appendingPathComponent("data"), shimPath: try TestSupport.shimPath(), network: network)
        configure(&configuration)
        runtime = try RuncRuntime(configuration: configuration)
    }

    /// A bridge of the tests' own, so a concurrently running agent's `pier0` is not touched.
    static let testNetwork = NetworkConfiguration(name: "piertest", bridge: "piert0", subnet: "10.213.0.0/24")

    func layout(_ id: String) -> ContainerLayout {
        ContainerLayout(directory: root.appendingPathComponent("containers/\(id)"))
    }

    /// Launches a busybox container.
    func launch(
        _ id: String, _ options: ContainerOptions, image: ImageRunConfig = ImageRunConfig(), foreground: Bool = false
    ) async throws -> LaunchedContainer {
        try await runtime.launch(
            LaunchRequest(
                id: id, options: options, image: image, layers: [layer],
                layout: layout(id), foreground: foreground))
    }

    /// Waits for the shim to end and returns what it recorded.
    func waitForExit(_ launched: LaunchedContainer, _ id: String) async -> ExitRecord? {
        _ = await runtime.waitForExit(pid: launched.shimPID)
        return runtime.exitRecord(layout: layout(id))
    }

    func destroy() async {
        _ = await runtime.network.drainPool()
        let containers = root.appendingPathComponent("containers")
        for id in (try? FileManager.default.contentsOfDirectory(atPath: containers.path)) ?? [] {
            try? await runtime.runc.delete(id: id, force: true)
            _ = await runtime.cleanup(id: id, layout: layout(id))
        }
        for mountPoint in SystemCalls.mountPoints(under: root.path) {
            umount2(mountPoint, Int32(MNT_DETACH))
        }
        try? FileManager.default.removeItem(at: root)
    }

    /// Runs `body` with a fresh sandbox, destroying it afterwards whatever happens.
    static func with<T>(
        network: NetworkConfiguration = Sandbox.testNetwork, configure: (inout RuntimeConfiguration) -> Void = { _ in },
        _ body: (Sandbox) async throws -> T
    ) async throws -> T {
        let sandbox = try Sandbox(network: network, configure: configure)
        do {
            let result = try await body(sandbox)
            await sandbox.destroy()
            return result
        } catch {
            await sandbox.destroy()
            throw error
        }
    }
}
