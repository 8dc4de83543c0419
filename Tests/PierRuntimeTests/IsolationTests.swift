import PierTestSupport
import PierSpec
import Foundation
import Testing

@testable import PierRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// Seccomp, the cgroup namespace, the pids limit, privileged and the security flags, checked
/// from inside real containers.
@Suite("Container isolation", .serialized, .requires(TestSupport.canRunContainers, "root, runc and busybox-static"), .timeLimit(.minutes(5)))
struct IsolationTests {
    func shell(_ script: String) -> ContainerOptions {
        ContainerOptions(command: ["sh", "-c", script], network: .none)
    }

    /// Runs to completion; returns the exit code and the stdout and stderr lines.
    func run(
        _ sandbox: Sandbox, _ options: ContainerOptions, image: ImageRunConfig = ImageRunConfig()
    ) async throws -> (Int32, [String], [String]) {
        try Probe.install(into: sandbox.layer)
        let id = TestSupport.newID()
        let launched = try await sandbox.launch(id, options, image: image)
        let record = try #require(await sandbox.waitForExit(launched, id))
        let lines = try CRILogLine.parse(sandbox.layout(id).logPath)
        _ = await sandbox.runtime.remove(id: id, layout: sandbox.layout(id))
        return (record.exitCode, lines.filter { $0.stream == "stdout" }.map(\.text), lines.filter { $0.stream == "stderr" }.map(\.text))
    }

    static let probes = "unshare-user add_key keyctl clone3 af_alg af_vsock af_inet af_unix clone-newns fork thread personality-query personality-norandom uname"

    @Test("default: seccomp filter on, namespaces, keyrings and rare socket families refused, clone3 ENOSYS, ordinary calls work")
    func defaultPolicy() async throws {
        try await Sandbox.with { sandbox in
            let (code, out, err) = try await run(
                sandbox, shell("grep Seccomp: /proc/self/status; grep NoNewPrivs /proc/self/status; probe \(Self.probes); unshare -U true; echo unshare=$?"))
            #expect(code == 0, "\(err)")
            #expect(out.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("2") }, "\(out)")
            #expect(out.contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") }, "\(out)")
            let r = Probe.results(out)
            #expect(r["unshare-user"] == "1", "\(out)")
            #expect(r["add_key"] == "1")
            #expect(r["keyctl"] == "1")
            #expect(r["clone3"] == "38")
            #expect(r["af_alg"] == "1")
            #expect(r["af_vsock"] == "1")
            #expect(r["clone-newns"] == "1")
            #expect(r["personality-norandom"] == "1")
            for ok in ["af_inet", "af_unix", "fork", "thread", "personality-query", "uname"] {
                #expect(r[ok] == "ok", "\(ok): \(out)")
            }
            #expect(out.last != "unshare=0", "busybox unshare -U must fail")
        }
    }

    #if arch(x86_64)
        @Test("the filter covers the architecture the image's programs use: a 32-bit call from an amd64 image is killed")
        func nativeArchitectureOnly() async throws {
            try await Sandbox.with { sandbox in
                let (_, out, err) = try await run(
                    sandbox, shell("probe uname i386-getpid; echo status=$?"), image: ImageRunConfig(architecture: "amd64"))
                let r = Probe.results(out)
                #expect(r["uname"] == "ok", "\(out) \(err)")
                #expect(r["i386-getpid"] == nil, "the 32-bit call must not return: \(out)")
                #expect(out.last == "status=159", "killed by SIGSYS (128 + 31): \(out)")
            }
        }

        @Test("a 386 image's filter covers x86 too: its 32-bit calls run, and are filtered as the 64-bit ones")
        func compatArchitecture() async throws {
            try await Sandbox.with { sandbox in
                let (code, out, err) = try await run(
                    sandbox, shell("grep Seccomp: /proc/self/status; probe i386-getpid i386-keyctl keyctl af_alg af_inet"),
                    image: ImageRunConfig(architecture: "386"))
                #expect(code == 0, "\(out) \(err)")
                #expect(out.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("2") }, "\(out)")
                let r = Probe.results(out)
                #expect(r["i386-getpid"] == "ok", "\(out)")
                #expect(r["i386-keyctl"] == "1", "\(out)")
                #expect(r["keyctl"] == "1" && r["af_alg"] == "1" && r["af_inet"] == "ok", "\(out)")
            }
        }
    #endif

    @Test("ordinary programs work under the default policy: busybox, a static Swift binary with threads, Debian's Python")
    func ordinaryPrograms() async throws {
        let swift = try #require(Probe.swiftBinary, "needs swiftc with the static Swift runtime")
        let python = "/usr/bin/python3"
        try #require(FileManager.default.isExecutableFile(atPath: python), "needs Debian's python3")
        try await Sandbox.with { sandbox in
            try? FileManager.default.removeItem(at: sandbox.layer.appendingPathComponent("bin/swift-probe"))
            try FileManager.default.copyItem(at: swift, to: sandbox.layer.appendingPathComponent("bin/swift-probe"))
            // Python from the host's /usr (merged /usr: /lib and /lib64 are links into it).
            try FileManager.default.removeItem(at: sandbox.layer.appendingPathComponent("usr"))
            try FileManager.default.createDirectory(at: sandbox.layer.appendingPathComponent("usr"), withIntermediateDirectories: true)
            for link in ["lib", "lib64"] {
                try FileManager.default.createSymbolicLink(atPath: sandbox.layer.appendingPathComponent(link).path, withDestinationPath: "usr/\(link)")
            }
            var options = shell(
                """
                grep Seccomp: /proc/self/status; ls / | wc -l; swift-probe
                \(python) -c 'import threading, subprocess; t = threading.Thread(target=print, args=("python thread",)); t.start(); t.join(); print("child", subprocess.run(["/bin/true"]).returncode)'
                """)
            options.volumes = [try BindMount(parsing: "/usr:/usr:ro")]
            let (code, out, err) = try await run(sandbox, options)
            #expect(code == 0, "\(out) \(err)")
            #expect(out.first?.hasSuffix("2") == true, "\(out)")
            #expect(out.contains("swift ok"), "\(out) \(err)")
            #expect(out.contains("python thread") && out.contains("child 0"), "\(out) \(err)")
        }
    }

    @Test("CAP_SYS_ADMIN unlocks what it is needed for: unshare, clone with namespace flags, clone3")
    func capabilityGated() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("probe unshare-user clone-newns clone3 keyctl")
            options.capAdd = ["CAP_SYS_ADMIN"]
            let (code, out, _) = try await run(sandbox, options)
            #expect(code == 0)
            let r = Probe.results(out)
            #expect(r["unshare-user"] == "ok", "\(out)")
            #expect(r["clone-newns"] == "ok")
            #expect(r["clone3"] == "22", "clone3 reaches the kernel (EINVAL for its NULL arguments): \(out)")
            #expect(r["keyctl"] == "1", "the keyring stays closed: \(out)")
        }
    }

    @Test("seccomp=unconfined: no filter")
    func unconfined() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("grep Seccomp: /proc/self/status; probe clone3 keyctl")
            options.security.seccomp = .unconfined
            let (code, out, _) = try await run(sandbox, options)
            #expect(code == 0)
            #expect(out.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("0") }, "\(out)")
            #expect(Probe.results(out)["clone3"] == "22")
        }
    }

    @Test("a Docker-format profile is honoured")
    func customProfile() async throws {
        try await Sandbox.with { sandbox in
            let profile = """
                {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
                 "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                              {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}}]}
                """
            var options = shell("grep Seccomp: /proc/self/status; probe uname keyctl fork")
            options.security.seccomp = .profile(try SeccompPolicy(dockerProfile: Data(profile.utf8)))
            let (code, out, _) = try await run(sandbox, options)
            #expect(code == 0)
            #expect(out.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("2") }, "\(out)")
            let r = Probe.results(out)
            #expect(r["uname"] == "13", "\(out)")
            #expect(r["keyctl"] != "1", "allowed by this profile's default: \(out)")
            #expect(r["fork"] == "ok")
        }
    }

    @Test("cgroup namespace: /proc/self/cgroup is /, /sys/fs/cgroup is read-only; the default pids limit is set")
    func cgroupNamespace() async throws {
        try await Sandbox.with { sandbox in
            let (code, out, _) = try await run(
                sandbox,
                shell(
                    """
                    cat /proc/self/cgroup; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max
                    mkdir /sys/fs/cgroup/pids/escape 2>/dev/null && echo writable || echo readonly
                    """))
            #expect(code == 0)
            let cgroupLines = out.filter { $0.contains(":") && !$0.hasPrefix("/") }
            #expect(!cgroupLines.isEmpty)
            for line in cgroupLines {
                #expect(line.hasSuffix(":/"), "\(line) shows a host path")
            }
            #expect(out.contains("\(DefaultProfile.pidsLimit)"), "\(out)")
            #expect(out.last == "readonly")
        }
    }

    @Test("a fork bomb stops at the pids limit and the node is unharmed")
    func forkBomb() async throws {
        try await Sandbox.with { sandbox in
            let id = TestSupport.newID()
            try Probe.install(into: sandbox.layer)
            var options = ContainerOptions(command: ["sh", "-c", "b() { b | b & }; b; sleep 30"], network: .none)
            options.pidsLimit = 64
            let launched = try await sandbox.launch(id, options)
            // The kernel counts the forks it refused at the limit.
            let events = sandbox.runtime.cgroups.directory(controller: sandbox.runtime.cgroups.version == .v1 ? "pids" : "", id: id)
                .appendingPathComponent("pids.events")
            func refused() -> Int {
                let text = (try? String(contentsOf: events, encoding: .utf8)) ?? ""
                return text.split(separator: "\n").first { $0.hasPrefix("max ") }.flatMap { Int($0.dropFirst(4)) } ?? 0
            }
            let reached = await TestSupport.waitUntil(timeout: .seconds(10)) { refused() > 0 }
            #expect(reached, "no fork was refused")
            #expect(try sandbox.runtime.stats(id: id).pids <= 64)
            try await sandbox.runtime.signal(id: id, signal: .kill, all: true)
            _ = await sandbox.waitForExit(launched, id)
            _ = await sandbox.runtime.remove(id: id, layout: sandbox.layout(id))
        }
    }

    @Test("privileged: no filter, every capability, the host's devices, writable /sys")
    func privileged() async throws {
        try await Sandbox.with { sandbox in
            var options = shell("grep -E 'Seccomp:|CapEff' /proc/self/status; ls /dev/loop-control /dev/kmsg 2>&1 | head -1; touch /sys/fs/cgroup/x 2>&1; probe unshare-user")
            options.privileged = true
            let (code, out, _) = try await run(sandbox, options)
            #expect(code == 0)
            #expect(out.contains { $0.hasPrefix("Seccomp:") && $0.hasSuffix("0") }, "\(out)")
            let own = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("CapBnd:") }.map { String($0.split(separator: "\t").last ?? "") }
            #expect(out.contains { $0.hasPrefix("CapEff:") && own != nil && $0.hasSuffix(own!) }, "\(out) \(own ?? "")")
            #expect(out.contains("/dev/kmsg") || out.contains("/dev/loop-control"), "\(out)")
            #expect(Probe.results(out)["unshare-user"] == "ok")
        }
    }

    @Test("--tmpfs, --ulimit, --shm-size, --sysctl, --init and no-new-privileges=false reach the container")
    func flags() async throws {
        guard let initBinary = IsolationSupport.initCandidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("--init needs tini-static (Debian's tini package)")
            return
        }
        _ = initBinary
        try await Sandbox.with { sandbox in
            var options = shell(
                """
                grep ' /run ' /proc/mounts; ulimit -n; ulimit -Hn; grep ' /dev/shm ' /proc/mounts; cat /proc/sys/kernel/msgmax
                grep NoNewPrivs /proc/self/status; cat /proc/1/cmdline | tr '\\0' ' '; echo
                echo x > /run/f && ls -l /run/f | cut -c1-10
                """)
            options.tmpfs = [try TmpfsMount(parsing: "/run:size=1m,mode=1777")]
            options.ulimits = [try Ulimit(parsing: "nofile=256:512")]
            options.shmSize = MemorySize(bytes: 8 << 20)
            options.sysctls = ["kernel.msgmax": "4096"]
            options.initProcess = true
            options.security.noNewPrivileges = false
            let (code, out, err) = try await run(sandbox, options)
            #expect(code == 0, "\(err)")
            #expect(out.contains { $0.contains(" /run tmpfs ") && $0.contains("size=1024k") && $0.contains("noexec") }, "\(out)")
            #expect(out.contains("256") && out.contains("512"), "\(out)")
            #expect(out.contains { $0.contains(" /dev/shm ") && $0.contains("size=8192k") }, "\(out)")
            #expect(out.contains("4096"))
            #expect(out.contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("0") }, "\(out)")
            #expect(out.contains { $0.hasPrefix(DefaultProfile.initPath + " -- sh -c") }, "\(out)")
        }
    }

    @Test("AppArmor: a profile applies where the kernel enforces it; asking for one elsewhere is refused", .enabled(if: AppArmor.isEnabled(), "this kernel has no AppArmor"))
    func appArmor() async throws {
        try await Sandbox.with { sandbox in
            let (code, out, _) = try await run(sandbox, shell("cat /proc/self/attr/current"))
            #expect(code == 0)
            #expect(out.first?.hasPrefix(AppArmor.defaultProfileName) == true, "\(out)")
        }
    }

    @Test("without AppArmor in the kernel, no profile is set and asking for one is a clear error")
    func appArmorAbsent() async throws {
        guard !AppArmor.isEnabled() else { return }
        try await Sandbox.with { sandbox in
            #expect(sandbox.runtime.isolation.appArmor == false)
            var options = shell("true")
            options.security.apparmor = "docker-default"
            let error = await #expect(throws: AppArmorError.self) { try await sandbox.launch(TestSupport.newID(), options) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("does not enforce AppArmor"))
            let (code, _, _) = try await run(sandbox, shell("true"))
            #expect(code == 0)
        }
    }
}
