import Foundation
import Testing

/// Seccomp, cgroup namespace, pids limit and the security flags through the real CLI and agent.
@Suite(.serialized, .integrationHost, .timeLimit(.minutes(10)))
struct IsolationCLITests {
    @Test func defaultContainersAreFilteredAndNamespacedAndInspectSaysSo() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let r = try agent.pier(
            "run", "--rm", "--network", "none", "test/busybox:1", "sh", "-c",
            "grep Seccomp: /proc/self/status; cat /proc/self/cgroup | head -1; cat /sys/fs/cgroup/pids/pids.max; unshare -U true || echo refused")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasSuffix("2") == true, "\(lines)")
        #expect(lines.dropFirst().first?.hasSuffix(":/") == true, "\(lines)")
        #expect(lines.contains("4096"))
        #expect(lines.last == "refused")

        try agent.ok("run", "-d", "--name", "confined", "--network", "none", "--pids-limit", "-1", "test/busybox:1", "sleep", "30")
        let inspect = try agent.ok("inspect", "confined")
        #expect(inspect.contains("\"seccomp\" : \"pier-default\"") || inspect.contains("\"seccomp\":\"pier-default\""), "\(inspect)")
        #expect(inspect.contains("\"cgroupNamespace\" : \"private\"") || inspect.contains("\"cgroupNamespace\":\"private\""))
        #expect(!inspect.contains("\"pidsLimit\" : 4096"))
        try agent.ok("rm", "-f", "confined")

        let info = try agent.ok("info")
        #expect(info.contains("Seccomp:        Pier's default policy"), "\(info)")
        #expect(info.contains("Cgroup ns:      private per container"))
    }

    @Test func flagsReachTheContainer() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let profile = agent.root.appendingPathComponent("profile.json")
        try #"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}"#
            .write(to: profile, atomically: true, encoding: .utf8)
        let r = try agent.pier(
            "run", "--rm", "--network", "none", "--security-opt", "seccomp=\(profile.path)", "--tmpfs", "/scratch:size=1m",
            "--ulimit", "nofile=100:200", "--shm-size", "4m", "--sysctl", "kernel.shmmni=1000",
            "test/busybox:1", "sh", "-c",
            "mkdir /tmp/x 2>&1 || true; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; ulimit -n; grep ' /dev/shm ' /proc/mounts | grep -o size=[0-9a-z]*; cat /proc/sys/kernel/shmmni")
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("Permission denied") == true, "\(lines)")
        #expect(Array(lines.dropFirst()) == ["tmpfs", "100", "size=4096k", "1000"], "\(lines)")

        let unconfined = try agent.pier("run", "--rm", "--network", "none", "--security-opt", "seccomp=unconfined", "test/busybox:1", "grep", "Seccomp:", "/proc/self/status")
        #expect(unconfined.stdout.hasSuffix("0\n"), "\(unconfined.stdout)")
        let privileged = try agent.pier("run", "--rm", "--network", "none", "--privileged", "test/busybox:1", "grep", "Seccomp:", "/proc/self/status")
        #expect(privileged.status == 0 && privileged.stdout.hasSuffix("0\n"), "\(privileged.stdout) \(privileged.stderr)")
    }

    @Test func badIsolationInputIsRefusedBeforeAnythingStarts() throws {
        let agent = try TestAgent()
        defer { agent.tearDown() }
        try makeBusyboxImage(agent)
        let profile = agent.root.appendingPathComponent("bad.json")
        try #"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "teleport"], "action": "SCMP_ACT_ALLOW"}]}"#
            .write(to: profile, atomically: true, encoding: .utf8)
        let notJSON = agent.root.appendingPathComponent("notjson.json")
        try "defaultAction: allow".write(to: notJSON, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--security-opt", "seccomp=\(profile.path)"], "teleport"),
            (["--security-opt", "seccomp=\(notJSON.path)"], "not valid JSON"),
            (["--security-opt", "seccomp=/nonexistent/profile.json"], "/nonexistent/profile.json"),
            (["--security-opt", "label=disable"], "SELinux"),
            (["--security-opt", "bogus=1"], "unknown option"),
            (["--security-opt", "apparmor=docker-default"], "AppArmor"),
            (["--sysctl", "kernel.panic=1"], "kernel.panic"),
            (["--ulimit", "nofile=9:1"], "--ulimit"),
            (["--tmpfs", "relative"], "--tmpfs"),
            (["--mount", "type=volume,target=/x"], "--mount"),
            (["--pids-limit", "-5"], "--pids-limit"),
        ]
        for (flags, mentions) in cases {
            let r = try agent.pier(["run", "-d", "--network", "none"] + flags + ["test/busybox:1", "true"])
            #expect(r.status != 0, "\(flags) was accepted")
            #expect(r.stderr.contains(mentions), "\(flags): \(r.stderr)")
        }
        #expect(try agent.ok("ps", "-a", "-q").isEmpty)
        #expect(agent.mountsBelowRoot().isEmpty)
        let dirs = (try? FileManager.default.contentsOfDirectory(atPath: agent.root.appendingPathComponent("containers").path)) ?? []
        #expect(dirs.isEmpty)
    }
}
