import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `pier agent --userns remap` and `pier run --userns`, through the real CLI and agent: the
/// node's `pier` range in /etc/subuid and /etc/subgid (added when absent, as on a fresh gateway),
/// a private data root, inspect and info, and what is refused.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct UserNamespaceCLITests {
    /// The `pier` entry the agent uses, from the real files.
    static func range() throws -> (uid: UInt32, gid: UInt32) {
        func start(_ file: String) throws -> UInt32 {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let entry = try #require(text.split(separator: "\n").first { $0.hasPrefix("pier:") }, "no pier entry in \(file)")
            return try #require(UInt32(entry.split(separator: ":")[1]))
        }
        return (try start("/etc/subuid"), try start("/etc/subgid"))
    }

    static func owner(_ path: String) -> (UInt32, UInt32)? {
        var st = stat()
        return lstat(path, &st) == 0 ? (st.st_uid, st.st_gid) : nil
    }

    static func id(_ agent: TestAgent, _ name: String) throws -> String {
        let json = try JSONSerialization.jsonObject(with: Data(try agent.ok("inspect", "--type", "container", name).utf8))
        let summary = (json as? [[String: Any]])?.first?["summary"] as? [String: Any]
        return try #require(summary?["id"] as? String, "no id in pier inspect \(name)")
    }

    @Test func aRemappingNodeUnderAPrivateDataRootAndUmask077() async throws {
        let agent = try TestAgent(arguments: ["--userns", "remap"], umask: 0o077)
        defer { agent.tearDown() }
        chmod(agent.root.path, 0o700)
        try makeBusyboxImage(agent)
        let (uid, gid) = try Self.range()

        let r = try agent.pier("run", "--rm", "--network", "none", "test/busybox:1", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(lines == [["0", "\(uid)", "65536"], ["0", "\(gid)", "65536"], ["0"]], "\(r.stdout)")

        // Bridge network, detached, a file made inside.
        try agent.ok("run", "-d", "--name", "remapped", "test/busybox:1", "sh", "-c", "echo x > /made && sleep 30")
        try agent.ok("run", "-d", "--name", "second", "test/busybox:1", "sleep", "30")
        let first = try Self.id(agent, "remapped"), second = try Self.id(agent, "second")
        let upperFile = agent.root.appendingPathComponent("containers/\(first)/upper/made").path
        #expect(await TestSupportWait.until { FileManager.default.fileExists(atPath: upperFile) })
        #expect(Self.owner(upperFile)! == (uid, gid), "a file made in the container belongs to the mapped root on the host")

        // Both containers' lower layers are the same directories in the store, mounted idmapped.
        // Read to the end: a /proc file reports no size.
        let mountInfo = String(decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/mountinfo")).readToEnd() ?? Data(), as: UTF8.self)
            .split(separator: "\n")
        func lowers(_ id: String) -> [String] {
            let prefix = agent.root.appendingPathComponent("containers/\(id)/idmap/").path
            return mountInfo.map { $0.split(separator: " ").map(String.init) }.filter { $0[4].hasPrefix(prefix) }
                .map { $0[3] }.sorted()
        }
        #expect(!lowers(first).isEmpty)
        #expect(lowers(first) == lowers(second), "\(lowers(first)) \(lowers(second))")

        let inspect = try agent.ok("inspect", "remapped").replacingOccurrences(of: " ", with: "")
        #expect(inspect.contains("\"userns\":\"remap\""), "\(inspect)")
        #expect(inspect.contains("\"uidMap\":\"0\(uid)65536\""), "\(inspect)")
        let info = try agent.ok("info")
        #expect(info.contains("User ns:        remap by default (remap: uid \(uid)-\(uid + 65535), gid \(gid)-\(gid + 65535); layers idmapped"), "\(info)")
        #expect(agent.mountsBelowRoot().count > 0)
        try agent.ok("rm", "-f", "remapped", "second")
        #expect(agent.mountsBelowRoot().isEmpty, "\(agent.mountsBelowRoot())")

        // What needs the host's user namespace: refused until --userns host is given.
        for flags in [["--privileged"], ["--network", "host"]] {
            let refused = try agent.pier(["run", "--rm"] + flags + ["test/busybox:1", "true"])
            #expect(refused.status != 0 && refused.stderr.contains("--userns host") && refused.stderr.contains("pier agent --userns remap"), "\(flags): \(refused.stderr)")
            let host = try agent.pier(["run", "--rm", "--userns", "host"] + flags + ["test/busybox:1", "cat", "/proc/self/uid_map"])
            #expect(host.status == 0 && host.stdout.contains("4294967295"), "\(flags): \(host.stdout) \(host.stderr)")
        }
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(Self.mode(agent.root.path) == 0o700, "the data root was opened up")
    }

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    @Test func perContainerRemapOnAHostNodeAndBadInput() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let volume = agent.root.appendingPathComponent("volume")
        try FileManager.default.createDirectory(at: volume, withIntermediateDirectories: true)
        let r = try agent.pier(
            "run", "--rm", "--network", "none", "--userns", "remap", "-v", "\(volume.path):/data", "test/busybox:1", "sh", "-c",
            "cat /proc/self/uid_map; touch /data/f; ls -ln /data/f")
        #expect(r.status == 0, "\(r.stderr)")
        let (uid, _) = try Self.range()
        #expect(r.stdout.split(separator: "\n").first?.split(separator: " ").map(String.init) == ["0", "\(uid)", "65536"], "\(r.stdout)")
        #expect(Self.owner(volume.appendingPathComponent("f").path)! == (0, 0), "a volume keeps the host's owners")
        #expect(try agent.ok("run", "--rm", "--network", "none", "test/busybox:1", "cat", "/proc/self/uid_map").contains("4294967295"))

        let cases: [([String], String)] = [
            (["--userns", "remap", "--privileged"], "--userns host"),
            (["--userns", "remap", "--network", "host"], "--userns host"),
            (["--userns", "maybe"], #"--userns "maybe""#),
        ]
        for (flags, mentions) in cases {
            let refused = try agent.pier(["run", "-d", "--network", "none"] + flags + ["test/busybox:1", "true"])
            #expect(refused.status != 0 && refused.stderr.contains(mentions), "\(flags): \(refused.stderr)")
        }
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(agent.mountsBelowRoot().isEmpty)
    }
}

enum TestSupportWait {
    /// Polls `condition` every 20 ms for up to 10 s.
    static func until(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<500 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
