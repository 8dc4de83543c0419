@testable import PierSpec
import PierTestSupport
import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Limits, isolation and devices of real containers, checked from inside and from the cgroups.
@Suite("Container runs", .requires(TestSupport.canRunContainers, "root, runc and busybox-static"), .timeLimit(.minutes(5)))
struct ContainerRunTests {
    func shell(_ script: String) -> ContainerOptions {
        ContainerOptions(command: ["sh", "-c", script], network: .none)
    }

    /// Runs to completion; returns the exit record and the log's text lines.
    func run(_ sandbox: Sandbox, _ options: ContainerOptions) async throws -> (ExitRecord, [CRILogLine]) {
        let id = TestSupport.newID()
        let launched = try await sandbox.launch(id, options)
        let record = try #require(await sandbox.waitForExit(launched, id))
        _ = await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id))
        return (record, try CRILogLine.parse(sandbox.layout(id).logPath))
    }

    @Test("memory limit is set in the container's cgroup; stats are read while it runs")
    func memoryLimitAndStats() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            var options = shell("while true; do i=0; while [ $i -lt 1000 ]; do i=$((i+1)); done; sleep 0.05; done")
            options.memory = MemorySize(bytes: 32 << 20)
            options.cpus = try CPULimit(cpus: 0.5)
            let launched = try await sandbox.launch(id, options)
            let cgroups = sandbox.runtime.cgroups
            switch cgroups.version {
            case .v1:
                let memory = cgroups.directory(controller: "memory", id: id)
                #expect(
                    try String(contentsOf: memory.appendingPathComponent("memory.limit_in_bytes"), encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines) == "\(32 << 20)")
                let cpu = cgroups.directory(controller: "cpu", id: id)
                #expect(
                    try String(contentsOf: cpu.appendingPathComponent("cpu.cfs_quota_us"), encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines) == "50000")
            case .v2:
                let dir = cgroups.directory(controller: "", id: id)
                #expect(
                    try String(contentsOf: dir.appendingPathComponent("memory.max"), encoding: .utf8)
                        .trimmingCharacters(in: .whitespacesAndNewlines) == "\(32 << 20)")
            }
            let first = try sandbox.runtime.stats(id: id)
            #expect(first.memoryLimitBytes == 32 << 20)
            #expect(first.pids >= 1)
            #expect(first.memoryBytes > 0 && first.memoryBytes < 32 << 20)
            #expect(try await TestSupport.waitUntil { try sandbox.runtime.stats(id: id).cpuNanoseconds > first.cpuNanoseconds })
            try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
            #expect(try #require(await sandbox.waitForExit(launched, id)).exitCode == 137)
            _ = await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id))
            #expect(throws: CgroupError.self) { try sandbox.runtime.stats(id: id) }
            #expect(!cgroups.exists(id: id))
        }
    }

    @Test("--pids-limit stops a container from forking past it")
    func pidsLimit() async throws {
        try await Sandbox.with { sandbox in
            var options = shell(
                """
                cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
                i=0; while [ $i -lt 8 ]; do sleep 30 & i=$((i+1)); echo started $i; done; echo all
                """)
            options.pidsLimit = 4
            let (record, lines) = try await run(sandbox, options)
            let out = lines.filter { $0.stream == "stdout" }.map(\.text)
            #expect(out.first == "4")
            let started = out.filter { $0.hasPrefix("started") }.count
            #expect(started >= 1 && started < 4, "\(out)")
            #expect(!out.contains("all"))
            #expect(lines.contains { $0.stream == "stderr" && $0.text.contains("can't fork") })
            #expect(record.exitCode != 0)
        }
    }

    @Test("--read-only: writes to the root filesystem fail")
    func readOnly() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("touch /file; echo root=$?; touch /etc/hosts; echo hosts=$?")
            options.readOnly = true
            let (record, lines) = try await run(sandbox, options)
            #expect(record.exitCode == 0)
            let out = lines.filter { $0.stream == "stdout" }.map(\.text)
            #expect(out == ["root=1", "hosts=1"])
            #expect(lines.contains { $0.stream == "stderr" && $0.text.contains("Read-only file system") })
        }
    }

    @Test("a read-only bind mount can be read but not written")
    func bindMountReadOnly() async throws {
        try await Sandbox.with { sandbox in
            let host = sandbox.root.appendingPathComponent("hostdata")
            try FileManager.default.createDirectory(at: host, withIntermediateDirectories: true)
            try "from the host".write(to: host.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
            var options = shell("cat /data/hello.txt; echo; echo new > /data/new.txt; echo write=$?")
            options.volumes = [try BindMount(parsing: "\(host.path):/data:ro")]
            let (record, lines) = try await run(sandbox, options)
            #expect(record.exitCode == 0)
            #expect(lines.filter { $0.stream == "stdout" }.map(\.text) == ["from the host", "write=1"])
            #expect(!FileManager.default.fileExists(atPath: host.appendingPathComponent("new.txt").path))
        }
    }

    @Test("a declared device is usable inside; the host's other devices are absent")
    func declaredDevice() async throws {
        try await Sandbox.with { sandbox in
            let node = sandbox.root.appendingPathComponent("zero")
            #expect(mknod(node.path, 0o020000 | 0o666, dev_t(SystemCalls.makedev(1, 5))) == 0, "mknod: \(SystemCalls.errorString(errno))")
            var options = shell(
                """
                head -c 4 /dev/sensor0 | wc -c
                for d in kmsg mem port sda vda console; do [ -e /dev/$d ] && echo present $d; done
                ls /dev
                """)
            options.devices = [try DeviceRequest(parsing: "\(node.path):/dev/sensor0:r")]
            let (record, lines) = try await run(sandbox, options)
            #expect(record.exitCode == 0)
            let out = lines.filter { $0.stream == "stdout" }.map { $0.text.trimmingCharacters(in: .whitespaces) }
            #expect(out.first == "4")
            #expect(!out.contains { $0.hasPrefix("present") }, "\(out)")
            let listing = Set(out.dropFirst().flatMap { $0.split(separator: " ").map(String.init) })
            #expect(listing.contains("sensor0") && listing.contains("null") && listing.contains("zero"))
            #expect(!listing.contains("kmsg") && !listing.contains("mem"))
        }
    }

    @Test("a missing device is refused before anything is created")
    func missingDevice() async throws {
        try await Sandbox.with { sandbox in
            #expect(throws: ContainerSpecError.deviceMissing(path: "/dev/gpiochip9")) {
                try ContainerSpec(image: "busybox", command: ["true"], devices: ["/dev/gpiochip9"], network: "none").validate().checkOnHost()
            }
            let containers = sandbox.root.appendingPathComponent("containers")
            #expect(!FileManager.default.fileExists(atPath: containers.path))
            let runcContainers = try await sandbox.runtime.runc.list()
            #expect(runcContainers.isEmpty)
            #expect(SystemCalls.mountPoints(under: sandbox.root.path).isEmpty)
        }
    }

    @Test("a failure after the rootfs was mounted undoes the mount")
    func failedLaunchLeavesNothing() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            var options = shell("true")
            options.user = UserSpec(user: "ghost")
            await #expect(throws: ContainerSpecError.unknownUser(flag: "--user", name: "ghost", file: "/etc/passwd")) {
                try await sandbox.launch(id, options)
            }
            #expect(!OverlayRootfs.isMounted(sandbox.layout(id).rootfs))
            #expect(SystemCalls.mountPoints(under: sandbox.root.path).isEmpty)
            let runcContainers = try await sandbox.runtime.runc.list()
            #expect(runcContainers.isEmpty)
        }
    }

    @Test("network none: only a loopback interface, and it is up")
    func networkNone() async throws {
        try await Sandbox.with { sandbox in
            let (record, lines) = try await run(
                sandbox, shell("ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags"))
            #expect(record.exitCode == 0)
            let out = lines.map(\.text)
            #expect(out.first == "lo")
            #expect(out.count == 3)
            let flags = UInt32(out.last?.dropFirst(2) ?? "", radix: 16) ?? 0
            #expect(flags & 1 == 1, "IFF_UP is not set on lo: \(out)")
        }
    }

    @Test("network host: the node's interfaces and hostname")
    func networkHost() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("hostname; ls /sys/class/net")
            options.network = .host
            let (record, lines) = try await run(sandbox, options)
            #expect(record.exitCode == 0)
            let out = lines.filter { $0.stream == "stdout" }.map(\.text)
            #expect(out.first == SpecBuilder.nodeHostname())
            // The interface of the node's default route: present for the whole test, unlike
            // the veths other tests create and remove meanwhile.
            let routes = try #require(SystemCalls.readText("/proc/net/route"))
            var uplink: String?
            for line in routes.split(separator: "\n").dropFirst() {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.count > 1 && fields[1] == "00000000" { uplink = String(fields[0]) }
            }
            var seen = Set<String>()
            for line in out.dropFirst() {
                for name in line.split(separator: " ") { seen.insert(String(name)) }
            }
            #expect(seen.contains("lo"))
            if let uplink { #expect(seen.contains(uplink), "\(seen) lacks the node's \(uplink)") }
            #expect(seen.count > 1)
        }
    }

    @Test("a user from the image's passwd runs the process")
    func userFromPasswd() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("id -u; id -g; id -G")
            options.user = UserSpec(user: "app")
            let (record, lines) = try await run(sandbox, options)
            #expect(record.exitCode == 0)
            #expect(lines.map(\.text) == ["1000", "1000", "1000 20 29"])
        }
    }

    @Test("exec runs in the running container: output, exit code, user, missing command, timeout")
    func exec() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let launched = try await sandbox.launch(id, ContainerOptions(command: ["sleep", "30"], env: ["FROM_RUN=1"], network: .none))
            let layout = sandbox.layout(id)
            let collected = Collected()
            let code = try await sandbox.runtime.exec(
                id: id, layout: layout, command: ["sh", "-c", "echo hi $FROM_RUN $EXTRA; echo err >&2; exit 4"], env: ["EXTRA=2"],
                output: { collected.add($0) })
            #expect(code == 4)
            #expect(collected.stdout == "hi 1 2\n" && collected.stderr == "err\n")

            let asApp = Collected()
            #expect(
                try await sandbox.runtime.exec(id: id, layout: layout, command: ["id", "-u"], user: "app", output: { asApp.add($0) }) == 0)
            #expect(asApp.stdout == "1000\n")

            #expect(try await sandbox.runtime.exec(id: id, layout: layout, command: ["nonexistent-tool"], output: { _ in }) == 127)

            let started = ContinuousClock.now
            let timedOut = await #expect(throws: RuncError.self) {
                try await sandbox.runtime.exec(
                    id: id, layout: layout, command: ["sleep", "1000"], timeout: .milliseconds(300), output: { _ in })
            }
            guard case .execTimedOut? = timedOut else {
                Issue.record("expected execTimedOut, got \(String(describing: timedOut))")
                return
            }
            // It returned at the timeout, not when the command would have ended (a bound far from
            // both, so a busy machine cannot fail it).
            #expect(ContinuousClock.now - started < .seconds(120))

            try await sandbox.runtime.signal(id: id, signal: .kill, all: false)
            #expect(try #require(await sandbox.waitForExit(launched, id)).exitCode == 137)
            await #expect(throws: RuncError.self) {
                try await sandbox.runtime.exec(id: id, layout: layout, command: ["true"], output: { _ in })
            }
        }
    }

    @Test("a restart reuses the container's upper layer")
    func restartKeepsWrites() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            let first = try await sandbox.launch(id, shell("cat /state 2>/dev/null || echo none; echo kept > /state"))
            #expect(try #require(await sandbox.waitForExit(first, id)).exitCode == 0)
            #expect(await sandbox.runtime.cleanup(id: id, layout: sandbox.layout(id)).isEmpty)
            let second = try await sandbox.launch(id, shell("cat /state"))
            #expect(try #require(await sandbox.waitForExit(second, id)).exitCode == 0)
            let texts = try CRILogLine.parse(sandbox.layout(id).logPath).map(\.text)
            #expect(texts == ["none", "kept"])
            #expect(await sandbox.runtime.remove(id: id, layout: sandbox.layout(id)).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: sandbox.layout(id).directory.path))
        }
    }
}

/// Output collected from an exec's handler (called on another thread).
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var out: [UInt8] = []
    private var err: [UInt8] = []

    func add(_ chunk: ProcessOutput) {
        lock.lock()
        defer { lock.unlock() }
        switch chunk {
        case .stdout(let b): out += b
        case .stderr(let b): err += b
        }
    }

    var stdout: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var stderr: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }
}
