@testable import PierSpec
import PierTestSupport
import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `--userns remap`, checked with real runc: the range from a `pier` subuid/subgid entry (made
/// here in the sandbox's own files), idmapped lower layers or chowned copies, volumes, devices,
/// and a data root only root may enter.
@Suite("User namespaces", .serialized, .requires(TestSupport.canRunContainers, "root, runc and busybox-static"), .timeLimit(.minutes(5)))
struct UserNamespaceTests {
    /// Containers remapped by default, the `pier` entries in the sandbox, and the sandbox and its
    /// data root private (0700), as the agent makes its data root.
    static func remapping(_ layers: LayerIDMapping? = nil) -> (inout RuntimeConfiguration) -> Void {
        { configuration in
            let root = configuration.dataRoot.deletingLastPathComponent()
            configuration.userns = .remap
            configuration.subuidPath = root.appendingPathComponent("subuid").path
            configuration.subgidPath = root.appendingPathComponent("subgid").path
            configuration.layerIDMapping = layers
        }
    }

    static func makePrivate(_ sandbox: Sandbox) throws {
        for dir in [sandbox.root, sandbox.root.appendingPathComponent("data"), sandbox.root.appendingPathComponent("containers")] {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            chmod(dir.path, 0o700)
        }
    }

    static func mode(_ url: URL) -> mode_t {
        var st = stat()
        return stat(url.path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    static func owner(_ url: URL) -> (uid: UInt32, gid: UInt32)? {
        var st = stat()
        return lstat(url.path, &st) == 0 ? (st.st_uid, st.st_gid) : nil
    }

    func shell(_ script: String, network: NetworkMode = .none) -> ContainerOptions {
        ContainerOptions(command: ["sh", "-c", script], network: network)
    }

    /// Runs to completion (leaving the container's directory for inspection); returns the exit
    /// code and the stdout and stderr lines.
    func run(_ sandbox: Sandbox, _ options: ContainerOptions, id: String = TestSupport.newID()) async throws -> (Int32, [String], [String]) {
        let launched = try await sandbox.launch(id, options)
        let record = try #require(await sandbox.waitForExit(launched, id))
        let lines = try CRILogLine.parse(sandbox.layout(id).logPath)
        _ = await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id))
        return (record.exitCode, lines.filter { $0.stream == "stdout" }.map(\.text), lines.filter { $0.stream == "stderr" }.map(\.text))
    }

    @Test("remapped: uid_map shows the range, a file made inside is the mapped uid's on the host, the shared layer is unchanged, under a 0700 data root")
    func remappedRoot() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            #expect(sandbox.runtime.isolation.layerIDMapping == .idmapped, "this kernel (≥ 5.19) should idmap mounts")
            let range = try sandbox.runtime.subordinateIDs()
            #expect(range.uidStart >= 100_000 && range.count == 65536)
            #expect(try String(contentsOf: sandbox.root.appendingPathComponent("subuid"), encoding: .utf8) == "pier:\(range.uidStart):65536\n")
            let layerBefore = try Self.snapshot(sandbox.layer)

            let id = TestSupport.newID()
            let (code, out, err) = try await run(
                sandbox,
                shell("cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c '%u:%g' /bin/busybox /etc/hosts; echo hi > /made-inside; mkdir /dir-inside"),
                id: id)
            #expect(code == 0, "\(err)")
            let maps = out.prefix(2).map { $0.split(separator: " ").map(String.init) }
            #expect(maps.first == ["0", "\(range.uidStart)", "65536"], "\(out)")
            #expect(maps.last == ["0", "\(range.gidStart)", "65536"], "\(out)")
            #expect(Array(out.dropFirst(2)) == ["0", "0:0", "0:0"], "inside, root and its files are uid 0: \(out)")

            let upper = sandbox.layout(id).upper
            #expect(Self.owner(upper.appendingPathComponent("made-inside"))! == (range.uidStart, range.gidStart))
            #expect(Self.owner(upper.appendingPathComponent("dir-inside"))! == (range.uidStart, range.gidStart))
            #expect(try Self.snapshot(sandbox.layer) == layerBefore, "the shared layer was changed")
            #expect(!FileManager.default.fileExists(atPath: sandbox.layer.appendingPathComponent("made-inside").path))
            for dir in [sandbox.root, sandbox.root.appendingPathComponent("data"), sandbox.root.appendingPathComponent("containers")] {
                #expect(Self.mode(dir) == 0o700, "\(dir.path) was opened up")
            }
            #expect(!FileManager.default.fileExists(atPath: sandbox.runtime.remappedView(id: id).path), "the view outlived the container")

            // Started again (a restart policy), on the same directory.
            let (again, out2, err2) = try await run(sandbox, shell("cat /made-inside"), id: id)
            #expect(again == 0 && out2.last == "hi", "\(out2) \(err2)")
            #expect(SystemCalls.mountPoints(under: sandbox.root.path).isEmpty)
        }
    }

    @Test("bridge network: the host's /sys is bound read-only, the container is remapped and reachable")
    func bridgeNetwork() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            let (code, out, err) = try await run(
                sandbox, shell("cat /proc/self/uid_map; ls /sys/class/net | grep -c .; ip -4 addr show eth0 | grep -c inet; touch /sys/x 2>/dev/null || echo ro", network: .bridge))
            #expect(code == 0, "\(err)")
            #expect(out.first?.split(separator: " ").dropFirst().first.flatMap { UInt32($0) } == (try sandbox.runtime.subordinateIDs()).uidStart, "\(out)")
            #expect(out.dropFirst(2).first == "1", "eth0 has an address: \(out)")
            #expect(out.last == "ro")

            var sysctl = shell("true", network: .bridge)
            sysctl.sysctls = ["net.ipv4.ip_unprivileged_port_start": "80"]
            let error = await #expect(throws: ContainerSpecError.self) { try await sandbox.launch(TestSupport.newID(), sysctl) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("--sysctl net.ipv4.ip_unprivileged_port_start"))
            sysctl.network = .none
            let (none, _, noneErr) = try await run(sandbox, sysctl)
            #expect(none == 0, "net.* sysctls work in a remapped container's own network namespace: \(noneErr)")
        }
    }

    @Test("two remapped containers of one image share its layer through idmapped mounts: nothing is copied")
    func sharedLayersIdmapped() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            let ids = [TestSupport.newID(), TestSupport.newID()]
            var launched: [LaunchedContainer] = []
            for id in ids { launched.append(try await sandbox.launch(id, shell("sleep 30"))) }
            let mountInfo = String(decoding: try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/mountinfo")).readToEnd() ?? Data(), as: UTF8.self)
            for id in ids {
                let lower = sandbox.layout(id).idmapDirectory.appendingPathComponent("0").path
                let line = try #require(mountInfo.split(separator: "\n").first { $0.split(separator: " ")[4] == lower }, "no idmapped lower for \(id)")
                #expect(line.contains("idmapped"), "\(line)")
                #expect(line.split(separator: " ")[3].hasSuffix("layers/busybox"), "the lower is the shared layer itself: \(line)")
            }
            let copies = sandbox.root.appendingPathComponent("data/userns-layers")
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: copies.path)) ?? []).isEmpty)
            for (id, container) in zip(ids, launched) {
                try await sandbox.runtime.signal(id: id, signal: .kill, all: true)
                _ = await sandbox.waitForExit(container, id)
                _ = await sandbox.runtime.remove(id: id, layout: sandbox.layout(id))
            }
            #expect(SystemCalls.mountPoints(under: sandbox.root.path).isEmpty)
        }
    }

    @Test("without idmapped mounts: one chowned copy per range, shared by both containers; the original layer is unchanged")
    func chownedCopies() async throws {
        try await Sandbox.with(configure: Self.remapping(.chownedCopy)) { sandbox in
            try Self.makePrivate(sandbox)
            let range = try sandbox.runtime.subordinateIDs()
            let before = try Self.snapshot(sandbox.layer)
            for _ in 0..<2 {
                let (code, out, err) = try await run(sandbox, shell("id -u; stat -c %u /bin/busybox; touch /x"))
                #expect(code == 0, "\(err)")
                #expect(out == ["0", "0"], "\(out)")
            }
            let rangeDirectory = sandbox.root.appendingPathComponent("data/userns-layers/\(range.uidStart)-\(range.gidStart)")
            let copies = try FileManager.default.contentsOfDirectory(atPath: rangeDirectory.path).filter { !$0.hasSuffix(".source") }
            #expect(copies.count == 1, "\(copies)")
            let copy = rangeDirectory.appendingPathComponent(copies[0])
            #expect(Self.owner(copy.appendingPathComponent("bin/busybox"))! == (range.uidStart, range.gidStart))
            #expect(Self.owner(copy.appendingPathComponent("tmp")).map { $0.uid } == range.uidStart)
            #expect(Self.mode(copy.appendingPathComponent("tmp")) == 0o1777, "chown keeps the sticky bit")
            #expect(try Self.snapshot(sandbox.layer) == before)

            var withVolume = shell("true")
            withVolume.volumes = [try BindMount(parsing: "\(sandbox.root.path):/data")]
            let error = await #expect(throws: UserNamespaceError.self) { try await sandbox.launch(TestSupport.newID(), withVolume) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("idmapped mount"))
        }
    }

    @Test("volumes are idmapped: root's files are root's inside, and what the container writes keeps the host's owners")
    func volumes() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            let volume = sandbox.root.appendingPathComponent("volume")
            try FileManager.default.createDirectory(at: volume, withIntermediateDirectories: true)
            chmod(volume.path, 0o700)
            try "host\n".write(to: volume.appendingPathComponent("from-host"), atomically: true, encoding: .utf8)
            let file = sandbox.root.appendingPathComponent("config.txt")
            try "one file\n".write(to: file, atomically: true, encoding: .utf8)
            chown(file.path, 1000, 1000)
            var options = shell("stat -c %u /data/from-host /config.txt; cat /data/from-host /config.txt; echo c > /data/from-container; echo rw")
            options.volumes = [try BindMount(parsing: "\(volume.path):/data"), try BindMount(parsing: "\(file.path):/config.txt:ro")]
            let (code, out, err) = try await run(sandbox, options)
            #expect(code == 0, "\(err)")
            #expect(out == ["0", "1000", "host", "one file", "rw"], "\(out)")
            #expect(Self.owner(volume.appendingPathComponent("from-container"))! == (0, 0), "written by the container's root, stored as the host's root")
        }
    }

    @Test("devices: a node only root may open on the host is the container root's to open")
    func devices() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            let node = sandbox.root.appendingPathComponent("nullish")
            #expect(mknod(node.path, S_IFCHR | 0o600, dev_t(SystemCalls.makedev(1, 3))) == 0)
            var options = shell("stat -c '%u %a %t:%T' /dev/sensor; echo x > /dev/sensor && echo written")
            options.devices = [try DeviceRequest(parsing: "\(node.path):/dev/sensor:rw")]
            let (code, out, err) = try await run(sandbox, options)
            #expect(code == 0, "\(err)")
            #expect(out == ["0 600 1:3", "written"], "\(out)")
        }
    }

    @Test("exec joins the container's user namespace")
    func exec() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            try Self.makePrivate(sandbox)
            let id = TestSupport.newID()
            let launched = try await sandbox.launch(id, shell("sleep 30"))
            let output = OutputCollector()
            let code = try await sandbox.runtime.exec(id: id, layout: sandbox.layout(id), command: ["sh", "-c", "id -u; cat /proc/self/uid_map"]) {
                if case .stdout(let bytes) = $0 { output.append(bytes) }
            }
            #expect(code == 0)
            let lines = output.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(lines.first == ["0"])
            #expect(lines.last?.dropFirst().first == String(try sandbox.runtime.subordinateIDs().uidStart))
            try await sandbox.runtime.signal(id: id, signal: .kill, all: true)
            _ = await sandbox.waitForExit(launched, id)
        }
    }

    @Test("--userns host on a remapping node, and the node's host default: no user namespace")
    func hostUserns() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            var options = shell("cat /proc/self/uid_map")
            options.userns = .host
            let (code, out, _) = try await run(sandbox, options)
            #expect(code == 0)
            #expect(out.first?.split(separator: " ") == ["0", "0", "4294967295"], "\(out)")
        }
        try await Sandbox.with { sandbox in
            let (_, out, _) = try await run(sandbox, shell("cat /proc/self/uid_map"))
            #expect(out.first?.split(separator: " ") == ["0", "0", "4294967295"], "\(out)")
        }
    }

    @Test("what needs the host's user namespace, and an unusable range, are refused before anything is made")
    func refusals() async throws {
        try await Sandbox.with(configure: Self.remapping()) { sandbox in
            var privileged = shell("true")
            privileged.privileged = true
            var hostNetwork = shell("true")
            hostNetwork.network = .host
            for (options, mentions) in [(privileged, "--privileged"), (hostNetwork, "--network host")] {
                let id = TestSupport.newID()
                let error = await #expect(throws: ContainerSpecError.self) { try await sandbox.launch(id, options) }
                let text = "\(error.map { "\($0)" } ?? "")"
                #expect(text.contains(mentions) && text.contains("--userns host") && text.contains("pier agent --userns remap"), "\(text)")
                #expect(!FileManager.default.fileExists(atPath: sandbox.layout(id).directory.path))
            }
        }
        for entry in ["pier:0:65536", "pier:100000:1000", "pier:4294967000:65536"] {
            // Asked for per container, on a node that does not remap by default.
            let perContainer: (inout RuntimeConfiguration) -> Void = { configuration in
                Self.remapping()(&configuration)
                configuration.userns = .host
                try? "\(entry)\n".write(toFile: configuration.subuidPath, atomically: true, encoding: .utf8)
            }
            try await Sandbox.with(configure: perContainer) { sandbox in
                let id = TestSupport.newID()
                var options = shell("true")
                options.userns = .remap
                let error = await #expect(throws: UserNamespaceError.self) { try await sandbox.launch(id, options) }
                let text = "\(error.map { "\($0)" } ?? "")"
                #expect(text.contains(entry) && text.contains("subuid") && text.contains("65536"), "\(text)")
                #expect(!FileManager.default.fileExists(atPath: sandbox.layout(id).directory.path))
                #expect(SystemCalls.mountPoints(under: sandbox.root.path).isEmpty)
                #expect(!FileManager.default.fileExists(atPath: sandbox.root.appendingPathComponent("subgid").path))
            }
            // A node that remaps every container does not start without its range.
            let root = try TestSupport.makeTempDirectory()
            defer { try? FileManager.default.removeItem(at: root) }
            var configuration = RuntimeConfiguration(dataRoot: root.appendingPathComponent("data"), shimPath: try TestSupport.shimPath())
            Self.remapping()(&configuration)
            try "\(entry)\n".write(toFile: configuration.subuidPath, atomically: true, encoding: .utf8)
            #expect(throws: UserNamespaceError.self) { _ = try RuncRuntime(configuration: configuration) }
        }
    }

    /// Every entry under `dir`: path, owner, mode, size.
    static func snapshot(_ dir: URL) throws -> [String] {
        var result: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: dir.path)
        while let relative = enumerator?.nextObject() as? String {
            var st = stat()
            guard lstat(dir.appendingPathComponent(relative).path, &st) == 0 else { continue }
            result.append("\(relative) \(st.st_uid):\(st.st_gid) \(String(st.st_mode, radix: 8)) \(st.st_size)")
        }
        return result.sorted()
    }
}

/// Collects the bytes of an exec's stdout.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ bytes: [UInt8]) { lock.lock(); data.append(contentsOf: bytes); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
