import PierSpec
import Foundation
import Testing

@testable import PierRuntime

@Suite("Seccomp policy")
struct SeccompPolicyTests {
    func names(_ seccomp: RuntimeSpec.Seccomp, action: String = "SCMP_ACT_ALLOW", unconditional: Bool = true) -> Set<String> {
        Set((seccomp.syscalls ?? []).filter { $0.action == action && ($0.args == nil) == unconditional }.flatMap(\.names))
    }

    @Test("the default denies with EPERM and covers x86_64 with its compat architectures")
    func defaultShape() {
        let s = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault, architecture: .x86_64)
        #expect(s.defaultAction == "SCMP_ACT_ERRNO" && s.defaultErrnoRet == 1)
        // x32 only where the kernel runs it (this machine's Debian kernel has it disabled).
        #expect(s.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] + (SeccompArchitecture.kernelRunsX32 ? ["SCMP_ARCH_X32"] : []))
        let a = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault, architecture: .aarch64)
        #expect(a.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
        #expect(names(a).contains("cacheflush"))
        #expect(!names(a).contains("arch_prctl"))
        #expect(names(s).contains("arch_prctl"))
        #expect(!names(s).contains("cacheflush"))
    }

    @Test("without capabilities: no namespaces, keyrings, io_uring, mount; clone filtered, clone3 ENOSYS")
    func defaultDenies() {
        let s = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault, architecture: .x86_64)
        let allowed = Set((s.syscalls ?? []).filter { $0.action == "SCMP_ACT_ALLOW" }.flatMap(\.names))
        for denied in ["unshare", "setns", "mount", "keyctl", "add_key", "request_key", "io_uring_setup", "userfaultfd", "bpf",
                       "kexec_load", "init_module", "reboot", "open_by_handle_at", "clone3", "ptrace" + "_nothing"] {
            #expect(!allowed.contains(denied), "\(denied)")
        }
        for ok in ["read", "write", "openat", "execve", "futex", "epoll_wait", "chroot", "socketpair", "getrandom", "rseq"] {
            #expect(names(s).contains(ok), "\(ok)")
        }
        let clone = (s.syscalls ?? []).first { $0.names == ["clone"] }
        #expect(clone?.args == [.init(index: 0, value: SeccompPolicy.namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")])
        #expect((s.syscalls ?? []).contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" && $0.errnoRet == 38 })
        let socket = (s.syscalls ?? []).first { $0.names == ["socket"] }
        #expect(socket?.args?.count == 3)
    }

    @Test("capabilities unlock their calls: SYS_ADMIN, SYS_TIME, SYS_PTRACE; dropping CHROOT removes chroot")
    func capabilities() {
        let admin = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault + ["CAP_SYS_ADMIN", "CAP_SYS_TIME"])
        #expect(names(admin).isSuperset(of: ["unshare", "setns", "mount", "clone", "clone3", "settimeofday"]))
        #expect(!(admin.syscalls ?? []).contains { $0.names == ["clone3"] && $0.action == "SCMP_ACT_ERRNO" })
        let noChroot = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault.filter { $0 != "CAP_SYS_CHROOT" })
        #expect(!names(noChroot).contains("chroot"))
    }

    @Test("the resolved default is cached per capability set")
    func cached() {
        let a = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault)
        let b = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault.reversed())
        #expect(a == b)
        #expect(a == SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault))
    }

    @Test("every name in the default policy is a system call of some architecture Pier runs on")
    func defaultNamesExist() {
        let unknown = SeccompPolicy.pierDefault.rules.flatMap(\.names).filter { !SyscallTable.isKnown($0) }
        // Names newer than libseccomp 2.5.4 are kept for newer libseccomp and resolved away here.
        let newer: Set<String> = [
            "fchmodat2", "map_shadow_stack", "mseal", "futex_wake", "futex_wait", "futex_requeue", "cachestat",
            "getxattrat", "setxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr", "open_tree_attr",
        ]
        #expect(Set(unknown).isSubset(of: newer), "\(Set(unknown).subtracting(newer).sorted())")
    }

    @Test("a Docker profile parses: includes, excludes, arches, errnoRet, args")
    func dockerProfile() throws {
        let json = """
            {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
             "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                         {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
                         {"architecture": "SCMP_ARCH_S390X", "subArchitectures": ["SCMP_ARCH_S390"]}],
             "syscalls": [
               {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "", "includes": {}, "excludes": {}},
               {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
               {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
               {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
               {"names": ["s390_pci_mmio_read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390", "s390x"]}},
               {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"], "minKernel": "4.8"}}
             ]}
            """
        let policy = try SeccompPolicy(dockerProfile: Data(json.utf8))
        let s = policy.resolve(capabilities: ["CAP_CHOWN"], architecture: .x86_64)
        #expect(s.defaultAction == "SCMP_ACT_ERRNO")
        #expect(s.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        #expect(names(s) == ["read", "write", "arch_prctl"])
        #expect((s.syscalls ?? []).contains { $0.names == ["clone3"] && $0.errnoRet == 38 })
        #expect((s.syscalls ?? []).contains { $0.names == ["personality"] && $0.args?.first?.value == 8 })
        let admin = policy.resolve(capabilities: ["CAP_SYS_ADMIN"], architecture: .x86_64)
        #expect(names(admin).contains("mount"))
        #expect(!(admin.syscalls ?? []).contains { $0.names == ["clone3"] })
    }

    @Test(
        "bad profiles are refused with the field named",
        arguments: [
            ("{not json", "not valid JSON"),
            ("[]", "JSON object"),
            (#"{"syscalls": []}"#, "defaultAction is missing"),
            (#"{"defaultAction": "SCMP_ACT_MAYBE"}"#, "SCMP_ACT_MAYBE"),
            (#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, "SCMP_ACT_NOTIFY"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}"#, "SCMP_ARCH_Z80"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "frobnicate"], "action": "SCMP_ACT_ALLOW"}]}"#, "\"frobnicate\""),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_PERMIT"}]}"#, "syscalls[0].action"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#, "index"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#, "SCMP_CMP_ABOUT"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_FLY"]}}]}"#, "CAP_FLY"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["vax"]}}]}"#, "vax"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscals": []}"#, "syscals"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}"#, "defaultErrnoRet"),
            (#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}"#, "names"),
        ])
    func badProfiles(_ input: String, _ mentions: String) {
        do {
            _ = try SeccompPolicy(dockerProfile: Data(input.utf8))
            Issue.record("accepted \(input)")
        } catch let error as SeccompProfileError {
            #expect(error.description.contains(mentions), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("the spec carries the filter, the cgroup namespace and the pids limit; privileged and unconfined carry none")
    func specBuilder() throws {
        let rootfs = try TestSupport.makeTempDirectory()
        defer { try? FileManager.default.removeItem(at: rootfs) }
        let plain = try SpecBuilder(id: "c1", options: ContainerOptions(command: ["true"], network: .none), image: ImageRunConfig(), rootfs: rootfs).build()
        #expect(plain.linux?.seccomp?.defaultAction == "SCMP_ACT_ERRNO")
        #expect(plain.linux?.namespaces?.contains { $0.type == "cgroup" } == true)
        #expect(plain.linux?.resources?.pids?.limit == DefaultProfile.pidsLimit)
        #expect(plain.process?.apparmorProfile == nil)

        var privileged = ContainerOptions(command: ["true"], network: .none)
        privileged.privileged = true
        let p = try SpecBuilder(id: "c2", options: privileged, image: ImageRunConfig(), rootfs: rootfs).build()
        #expect(p.linux?.seccomp == nil)
        #expect(p.linux?.namespaces?.contains { $0.type == "cgroup" } == false)
        #expect(p.linux?.maskedPaths == nil && p.linux?.readonlyPaths == nil)
        #expect(p.process?.capabilities?.bounding == Capabilities.ownBounding)
        #expect(p.linux?.resources?.devices == [.init(allow: true, access: "rwm")])

        var unconfined = ContainerOptions(command: ["true"], pidsLimit: nil, network: .none)
        unconfined.security.seccomp = .unconfined
        let u = try SpecBuilder(id: "c3", options: unconfined, image: ImageRunConfig(), rootfs: rootfs).build()
        #expect(u.linux?.seccomp == nil)
        #expect(u.linux?.resources?.pids == nil)

        var apparmor = ContainerOptions(command: ["true"], network: .none)
        apparmor.security.apparmor = "custom"
        var withAppArmor = IsolationSupport.baseline
        withAppArmor.appArmor = true
        withAppArmor.appArmorProfile = AppArmor.defaultProfileName
        #expect(try SpecBuilder(id: "c4", options: apparmor, image: ImageRunConfig(), rootfs: rootfs, isolation: withAppArmor).build().process?.apparmorProfile == "custom")
        #expect(
            try SpecBuilder(id: "c5", options: ContainerOptions(command: ["true"]), image: ImageRunConfig(), rootfs: rootfs, networkNamespace: "/x", isolation: withAppArmor)
                .build().process?.apparmorProfile == AppArmor.defaultProfileName)
        #expect(throws: AppArmorError.self) {
            try SpecBuilder(id: "c6", options: apparmor, image: ImageRunConfig(), rootfs: rootfs).build()
        }
    }
}
