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

    @Test("the resolved default is cached per capability set and architectures")
    func cached() {
        let a = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault)
        let b = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault.reversed())
        #expect(a == b)
        var policy = SeccompPolicy.pierDefault
        policy.architectures = [.native]
        let allowList = policy.resolve(capabilities: Capabilities.dockerDefault)
        #expect(a == SeccompPolicy.denyList(from: allowList, architectures: [.native], refusals: SeccompPolicy.refusals))
        #expect(SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault, imageArchitecture: "386") != a)
    }

    /// Whether `value` as argument `index` meets `arg` (runtime-spec operators, libseccomp's meaning).
    func holds(_ arg: RuntimeSpec.SyscallArg, _ value: UInt64) -> Bool {
        switch arg.op {
        case "SCMP_CMP_EQ": return value == arg.value
        case "SCMP_CMP_NE": return value != arg.value
        case "SCMP_CMP_LT": return value < arg.value
        case "SCMP_CMP_LE": return value <= arg.value
        case "SCMP_CMP_GT": return value > arg.value
        case "SCMP_CMP_GE": return value >= arg.value
        case "SCMP_CMP_MASKED_EQ": return value & arg.value == (arg.valueTwo ?? 0)
        default:
            Issue.record("operator \(arg.op)")
            return false
        }
    }

    /// What a filter does with `name` when its arguments are not looked at: the action of the
    /// unconditional rule naming it, "conditional" when only rules with arguments name it, else
    /// the default action.
    func verdict(_ filter: RuntimeSpec.Seccomp, _ name: String) -> String {
        let rules = (filter.syscalls ?? []).filter { $0.names.contains(name) }
        func action(_ action: String, _ errno: UInt32?) -> String {
            action == "SCMP_ACT_ERRNO" ? "errno \(errno ?? 1)" : action
        }
        if let plain = rules.first(where: { $0.args == nil }) { return action(plain.action, plain.errnoRet) }
        if !rules.isEmpty { return "conditional" }
        return action(filter.defaultAction, filter.defaultErrnoRet)
    }

    @Test(
        "containers get the policy as a deny-list that refuses every known call the allow-list refuses",
        arguments: [
            (Capabilities.dockerDefault, [SeccompArchitecture.x86_64]),
            (Capabilities.dockerDefault + ["CAP_SYS_ADMIN", "CAP_SYS_TIME"], [.x86_64]),
            (Capabilities.dockerDefault.filter { $0 != "CAP_SYS_CHROOT" }, [.x86_64]),
            (Capabilities.dockerDefault, [.aarch64, .arm]),
            (Capabilities.dockerDefault, [.arm]),
        ])
    func denyListAgrees(_ capabilities: [String], _ architectures: [SeccompArchitecture]) throws {
        var policy = SeccompPolicy.pierDefault
        policy.architectures = architectures
        let allowList = policy.resolve(capabilities: capabilities, architecture: architectures[0])
        let denyList = try #require(
            SeccompPolicy.denyList(from: allowList, architectures: architectures, refusals: SeccompPolicy.refusals))
        #expect(denyList.defaultAction == "SCMP_ACT_ALLOW" && denyList.defaultErrnoRet == nil)
        #expect(denyList.architectures == architectures.map(\.specName))
        let known = architectures.reduce(into: Set<String>()) { $0.formUnion(SyscallTable.names($1)) }
        for name in known.sorted() {
            let before = verdict(allowList, name), after = verdict(denyList, name)
            #expect(before == after, "\(name): allow-list \(before), deny-list \(after)")
        }
        // One rule per call: runc adds them in order, and a second rule for a call would meet the first.
        let named = (denyList.syscalls ?? []).flatMap(\.names)
        #expect(Set(named).count == named.count)
    }

    @Test("each refusal is true exactly where the allowing conditions are false", arguments: ["clone", "socket", "personality"])
    func refusalsNegate(_ call: String) throws {
        let allowList = SeccompPolicy.pierDefault.resolve(capabilities: Capabilities.dockerDefault, architecture: .x86_64)
        let allowing = (allowList.syscalls ?? []).filter { $0.names.contains(call) && $0.action == "SCMP_ACT_ALLOW" }
        let refusing = try #require(SeccompPolicy.refusals[call])
        #expect(!allowing.isEmpty)
        // Every condition tests argument 0, so runc ORs the ones of a rule, and rules are ORed anyway.
        #expect((allowing.flatMap { $0.args ?? [] } + refusing).allSatisfy { $0.index == 0 })
        var values: Set<UInt64> = [0, 1, 7, 8, 9, 38, 39, 40, 41, 0x20000, 0x20008, 0xffff_fffe, 0xffff_ffff, 0x1_0000_0000, .max]
        for i in 0..<64 {
            values.insert(UInt64(1) << i)
            values.insert(~(UInt64(1) << i))
            values.insert(0xffff_ffff ^ (UInt64(1) << i))
            for j in 0..<64 {
                values.insert(UInt64(1) << i | UInt64(1) << j)
                values.insert(0xffff_ffff & ~(UInt64(1) << i | UInt64(1) << j))
                values.insert(0x20008 | UInt64(1) << i | UInt64(1) << j)
            }
        }
        for flag in [SeccompPolicy.namespaceCloneFlags, 0x0001_0000, 0x003d_0f00, 0x0102_0000] { values.insert(flag) }
        var generator = SystemRandomNumberGenerator()
        for width in [8, 16, 32, 64] {
            for _ in 0..<20_000 { values.insert(width == 64 ? generator.next() : generator.next() & ((UInt64(1) << width) - 1)) }
        }
        for value in values {
            let allowed = allowing.contains { ($0.args ?? []).contains { holds($0, value) } }
            let refused = refusing.contains { holds($0, value) }
            if allowed == refused {
                Issue.record("\(call)(0x\(String(value, radix: 16))): allowed \(allowed), refused \(refused)")
                return
            }
        }
    }

    @Test("the filter covers the node's architecture, and an image's compat one; x86 keeps the allow-list")
    func coveredArchitectures() {
        #expect(SeccompArchitecture.x86_64.covering(image: "amd64") == [.x86_64])
        #expect(SeccompArchitecture.x86_64.covering(image: nil) == [.x86_64])
        #expect(SeccompArchitecture.x86_64.covering(image: "arm64") == [.x86_64])
        #expect(SeccompArchitecture.x86_64.covering(image: "386") == [.x86_64, .x86])
        #expect(SeccompArchitecture.aarch64.covering(image: "arm") == [.aarch64, .arm])
        #expect(SeccompArchitecture.aarch64.covering(image: "arm64") == [.aarch64])
        #expect(SeccompArchitecture.arm.covering(image: "arm64") == [.arm])
        // libseccomp would turn socket's refusal into one of every socketcall(SYS_SOCKET) on x86.
        var policy = SeccompPolicy.pierDefault
        policy.architectures = [.x86_64, .x86]
        let allowList = policy.resolve(capabilities: Capabilities.dockerDefault, architecture: .x86_64)
        #expect(SeccompPolicy.denyList(from: allowList, architectures: [.x86_64, .x86], refusals: SeccompPolicy.refusals) == nil)
        #if arch(x86_64)
            let i386 = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault, imageArchitecture: "386")
            #expect(i386.defaultAction == "SCMP_ACT_ERRNO" && i386.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
            let amd64 = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault, imageArchitecture: "amd64")
            #expect(amd64.defaultAction == "SCMP_ACT_ALLOW" && amd64.architectures == ["SCMP_ARCH_X86_64"])
        #endif
    }

    @Test("a default container's filter refuses what Docker's profile refuses a default container")
    func dockerRefusals() {
        let s = SeccompPolicy.resolvedDefault(capabilities: Capabilities.dockerDefault)
        let denied = Set((s.syscalls ?? []).filter { $0.action == "SCMP_ACT_ERRNO" && $0.args == nil }.flatMap(\.names))
        let docker = """
            bpf clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree
            perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare reboot
            delete_module init_module finit_module acct kcmp pidfd_getfd process_madvise iopl ioperm settimeofday stime
            clock_settime vhangup get_mempolicy mbind set_mempolicy set_mempolicy_home_node open_by_handle_at keyctl add_key
            request_key kexec_load kexec_file_load userfaultfd nfsservctl uselib ustat sysfs _sysctl create_module
            get_kernel_syms query_module afs_syscall tuxcall security vserver putpmsg getpmsg swapon swapoff pivot_root
            migrate_pages move_pages vm86 vm86old io_uring_setup io_uring_enter io_uring_register
            """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let here = SyscallTable.names(.native)
        for name in docker where here.contains(name) {
            #expect(denied.contains(name) || (name == "clone3" && verdict(s, name) == "errno 38"), "\(name): \(verdict(s, name))")
        }
        #expect(verdict(s, "clone3") == "errno 38")
        #expect(verdict(s, "clone") == "conditional" && verdict(s, "personality") == "conditional")
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
        // Pier's policy, as the deny-list it is written as for runc (default allow, keyctl refused).
        #expect(plain.linux?.seccomp?.defaultAction == "SCMP_ACT_ALLOW")
        #expect(plain.linux?.seccomp?.syscalls?.first?.names.contains("keyctl") == true)
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
