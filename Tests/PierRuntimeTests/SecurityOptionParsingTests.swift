@testable import PierSpec
import Foundation
import Testing

@testable import PierRuntime

@Suite("Security and resource flags")
struct SecurityOptionParsingTests {
    func parse(_ raw: ContainerSpec) throws -> ContainerOptions {
        let options = try raw.validate()
        try options.checkOnHost()
        return options
    }

    func message(_ raw: ContainerSpec) -> String {
        do {
            _ = try parse(raw)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test("--security-opt: seccomp, apparmor, no-new-privileges in both spellings")
    func securityOpt() throws {
        #expect(try parse(ContainerSpec(image: "busybox")).security == SecurityOptions())
        let o = try parse(ContainerSpec(image: "busybox", securityOpt: ["seccomp=unconfined", "apparmor:my-profile", "no-new-privileges=false"]))
        #expect(o.security.seccomp == .unconfined)
        #expect(o.security.apparmor == "my-profile")
        #expect(o.security.noNewPrivileges == false)
        let p = try parse(ContainerSpec(image: "busybox", securityOpt: [#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#]))
        guard case .profile(let policy) = p.security.seccomp else { Issue.record("no profile"); return }
        #expect(policy.defaultAction == .allow)
    }

    @Test(
        "bad --security-opt values are refused, naming the option",
        arguments: [
            (["label=type:svirt_t"], "SELinux"),
            (["selinux=1"], "unknown option"),
            (["seccomp="], "seccomp=unconfined"),
            (["seccomp=/etc/profile.json"], "reads a profile file"),
            (["seccomp=defaultAction: allow"], "not valid JSON"),
            (["seccomp={\"defaultAction\": 3"], "not valid JSON"),
            (["seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"nosuchcall\"],\"action\":\"SCMP_ACT_ALLOW\"}]}"], "nosuchcall"),
            (["apparmor=bad profile"], "apparmor=PROFILE"),
            (["no-new-privileges=maybe"], "no-new-privileges"),
            (["apparmor=a", "apparmor=b"], "twice"),
        ])
    func badSecurityOpt(_ entries: [String], _ mentions: String) {
        let text = message(ContainerSpec(image: "busybox", securityOpt: entries))
        #expect(text.contains(mentions), "\(text)")
        #expect(text.contains("--security-opt"), "\(text)")
    }

    @Test("--privileged with a seccomp profile is a conflict")
    func privilegedProfile() {
        #expect(message(ContainerSpec(image: "busybox", privileged: true, securityOpt: [#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#])).contains("--privileged"))
        #expect(message(ContainerSpec(image: "busybox", privileged: true, securityOpt: ["seccomp=unconfined"])) == "accepted")
    }

    @Test("--pids-limit: default, a number, 0 and -1 for no limit, below -1 refused")
    func pidsLimit() throws {
        #expect(try parse(ContainerSpec(image: "busybox")).pidsLimit == DefaultProfile.pidsLimit)
        #expect(try parse(ContainerSpec(image: "busybox", pidsLimit: 100)).pidsLimit == 100)
        #expect(try parse(ContainerSpec(image: "busybox", pidsLimit: 0)).pidsLimit == nil)
        #expect(try parse(ContainerSpec(image: "busybox", pidsLimit: -1)).pidsLimit == nil)
        #expect(message(ContainerSpec(image: "busybox", pidsLimit: -2)).contains("--pids-limit"))
    }

    @Test("--ulimit, --shm-size, --tmpfs, --mount parse; bad ones name the flag")
    func resourceFlags() throws {
        let o = try parse(
            ContainerSpec(image: "busybox", 
                tmpfs: ["/run:size=64m,mode=1777,exec"], mounts: ["type=tmpfs,target=/cache,tmpfs-size=1m", "type=bind,source=/tmp,target=/host-tmp,readonly"],
                ulimits: ["nofile=1024:2048", "core=-1"], shmSize: "128m"))
        #expect(o.ulimits == [Ulimit(name: "nofile", soft: 1024, hard: 2048), Ulimit(name: "core", soft: .max, hard: .max)])
        #expect(o.shmSize == MemorySize(bytes: 128 << 20))
        #expect(o.tmpfs == [TmpfsMount(destination: "/run", options: ["size=67108864", "mode=1777", "exec"]),
                            TmpfsMount(destination: "/cache", options: ["size=1048576"])])
        #expect(o.volumes == [BindMount(source: "/tmp", destination: "/host-tmp", readOnly: true)])
        for (raw, flag) in [
            (ContainerSpec(image: "busybox", ulimits: ["nofiles=1"]), "--ulimit"), (ContainerSpec(image: "busybox", ulimits: ["nofile=10:5"]), "above the hard"),
            (ContainerSpec(image: "busybox", ulimits: ["nofile=1", "nofile=2"]), "twice"), (ContainerSpec(image: "busybox", shmSize: "lots"), "--shm-size"),
            (ContainerSpec(image: "busybox", tmpfs: ["run"]), "--tmpfs"), (ContainerSpec(image: "busybox", tmpfs: ["/run:size=1m,suid=1"]), "suid"),
            (ContainerSpec(image: "busybox", tmpfs: ["/run:mode=999"]), "mode"), (ContainerSpec(image: "busybox", mounts: ["type=volume,target=/x"]), "type=volume"),
            (ContainerSpec(image: "busybox", mounts: ["type=bind,target=/x"]), "source"), (ContainerSpec(image: "busybox", mounts: ["type=tmpfs,source=/a,target=/x"]), "source"),
            (ContainerSpec(image: "busybox", volumes: ["/tmp:/x"], tmpfs: ["/x"]), "two mounts"),
        ] {
            let text = message(raw)
            #expect(text.contains(flag), "\(raw): \(text)")
        }
    }

    @Test("--sysctl: namespaced parameters only; net.* not with host networking")
    func sysctls() throws {
        #expect(try parse(ContainerSpec(image: "busybox", sysctls: ["net.ipv4.ip_forward": "1", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"])).sysctls.count == 3)
        for (sysctls, network, mentions) in [
            (["kernel.panic": "1"], nil as String?, "not a namespaced"), (["vm.swappiness": "1"], nil, "not a namespaced"),
            (["net.ipv4.ip_forward": "1"], "host", "--network host"), (["net/../../x": "1"], nil, "kernel parameter"),
            (["net.core.somaxconn": "1\n2"], nil, "printable"),
        ] {
            let text = message(ContainerSpec(image: "busybox", network: network, sysctls: sysctls))
            #expect(text.contains(mentions) && text.contains("--sysctl"), "\(sysctls): \(text)")
        }
    }
}
