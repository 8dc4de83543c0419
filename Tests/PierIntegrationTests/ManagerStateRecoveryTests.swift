import Foundation
import Testing

/// A real `pier manager` whose state database is damaged: it starts degraded, refuses requests
/// naming the problem and the remedy, and `pier manager recover` restores the backup it took.
@Suite(.serialized)
struct ManagerStateRecoveryTests {
    @Test func aDamagedManagerDatabaseDegradesTheManagerAndRecoverRestoresTheBackup() throws {
        let manager = try TestManager()
        defer { manager.tearDown() }
        try manager.start()
        try makeImage(manager)
        #expect(try manager.pier("service", "create", "--name", "web", "--replicas", "2", "test/busybox:1", "sleep", "1000").status == 0)
        // A start takes a backup of the state it loaded.
        manager.kill9()
        try FileManager.default.removeItem(at: manager.backup)
        try manager.start()
        #expect(manager.waitFor { FileManager.default.fileExists(atPath: manager.backup.path) }, "no backup was taken at start")
        manager.kill9()

        let db = manager.root.appendingPathComponent("manager.db").path
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        try Data((0..<(32 << 10)).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: db))
        try manager.start()
        let ls = try manager.pier("service", "ls")
        #expect(ls.status != 0 && ls.stderr.contains("cannot be used") && ls.stderr.contains("pier manager recover"), "\(ls.stdout) \(ls.stderr)")
        #expect(try manager.pier("service", "create", "--name", "other", "test/busybox:1").status != 0)

        manager.kill9()
        let recovered = try runProcess(Binaries.pier.path, ["manager", "recover", "--data-root", manager.root.path])
        #expect(recovered.status == 0 && recovered.stdout.contains("1 service(s)"), "\(recovered.stdout) \(recovered.stderr)")
        try manager.start()
        let listed = try manager.pier("service", "ls")
        #expect(listed.status == 0 && listed.stdout.contains("web"), "\(listed.stdout) \(listed.stderr)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: manager.root.path).filter { $0.hasPrefix("manager.db.unusable-") }
        #expect(!aside.isEmpty)
    }

    private func makeImage(_ manager: TestManager) throws {
        let bin = manager.root.appendingPathComponent("ctx/bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: bin.appendingPathComponent("busybox").path)
        try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent("sleep").path, withDestinationPath: "busybox")
        let r = try manager.pier("image", "build", "--tag", "test/busybox:1", "--from", "scratch", "--add", "\(bin.path):/bin", "--env", "PATH=/bin")
        #expect(r.status == 0, "\(r.stderr)")
    }
}

/// A `pier manager` alone (no agents) on a temporary data root.
final class TestManager: @unchecked Sendable {
    let root: URL
    let bridge: String
    private var process: Process?

    init() throws {
        root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pier-mgr-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        bridge = "pim" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(8)).lowercased()
    }

    var host: String { "unix://" + root.appendingPathComponent("m.sock").path }
    var backup: URL { root.appendingPathComponent("manager.db.backup") }

    /// Starts the manager and waits until its socket answers (degraded or not).
    func start() throws {
        let p = Process()
        p.executableURL = Binaries.pier
        p.arguments = ["manager", "--data-root", root.path, "--listen", host, "--shim", Binaries.shim.path,
                       "--bridge", bridge, "--bridge-subnet", "10.217.\(Int.random(in: 0...255)).0/24"]
        let log = root.appendingPathComponent("manager.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            // Any HTTP answer will do: a degraded manager answers 503.
            if let r = try? pier("node", "ls"), r.status == 0 || r.stderr.contains("cannot be used") { return }
            guard p.isRunning else { break }
            usleep(50_000)
        }
        throw TestFailure("manager did not come up; its log:\n" + ((try? String(contentsOf: log, encoding: .utf8)) ?? ""))
    }

    func kill9() {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<200 where !condition() { usleep(50_000) }
        return condition()
    }

    @discardableResult
    func pier(_ args: String...) throws -> CommandResult {
        try runProcess(Binaries.pier.path, args, env: ["PIER_HOST": host], timeout: 60)
    }

    func tearDown() {
        kill9()
        if FileManager.default.fileExists(atPath: "/sys/class/net/\(bridge)") {
            _ = try? runProcess("/usr/sbin/ip", ["link", "del", bridge])
        }
        try? FileManager.default.removeItem(at: root)
    }
}
