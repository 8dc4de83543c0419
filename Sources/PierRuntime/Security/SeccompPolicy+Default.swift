import PierSpec

/// Pier's default seccomp policy.
///
/// Everything not listed fails with EPERM. Ordinary programs get what they use: files,
/// memory, processes and threads, signals, time, sockets, IPC inside the container's namespace.
/// Calls that only a capability makes useful are allowed only with that capability, so
/// `--cap-add` keeps working. Never allowed without a capability: creating namespaces (the way
/// into most recent kernel exploits: `unshare`, `setns`, namespace flags of `clone`), mounting,
/// the kernel keyring (`add_key`, `keyctl`, `request_key`), `io_uring`, `userfaultfd`, `bpf`,
/// loading modules or kernels, and sockets of families that expose rarely audited kernel code
/// (AF_ALG, AF_VSOCK). `clone3` answers ENOSYS, so libc falls back to `clone`, whose flags
/// (unlike `clone3`'s, which live in memory) the filter can check.
///
/// Containers get it written the other way round (``resolvedDefault(capabilities:imageArchitecture:)``,
/// ``denyList(from:architectures:refusals:)``): everything allowed but the calls this list leaves
/// out, which runc compiles at each start in a fraction of the time.
extension SeccompPolicy {
    /// The policy every non-privileged container gets unless it asks for another.
    public static let pierDefault = SeccompPolicy(defaultAction: .errno(SeccompAction.eperm), rules: defaultRules)

    /// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
    static let namespaceCloneFlags: UInt64 = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000

    private static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    static let files = words(
        """
        access faccessat faccessat2 open openat openat2 creat close close_range read readv pread64 preadv preadv2
        write writev pwrite64 pwritev pwritev2 lseek _llseek dup dup2 dup3 pipe pipe2 fcntl fcntl64
        ioctl flock fsync fdatasync sync syncfs sync_file_range truncate truncate64 ftruncate ftruncate64
        fallocate fadvise64 fadvise64_64 readahead stat stat64 lstat lstat64 fstat fstat64 newfstatat fstatat64
        statx statfs statfs64 fstatfs fstatfs64 getdents getdents64 readlink readlinkat getcwd chdir fchdir
        mkdir mkdirat mknod mknodat rmdir unlink unlinkat rename renameat renameat2 link linkat symlink
        symlinkat chmod fchmod fchmodat fchmodat2 chown chown32 fchown fchown32 fchownat lchown lchown32 umask
        utime utimes utimensat utimensat_time64 futimesat getxattr lgetxattr fgetxattr setxattr lsetxattr
        fsetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getxattrat setxattrat
        listxattrat removexattrat sendfile sendfile64 splice tee vmsplice copy_file_range memfd_create
        inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark name_to_handle_at
        cachestat file_getattr file_setattr
        """)

    static let memory = words(
        """
        brk mmap mmap2 munmap mremap mprotect madvise mincore msync mlock mlock2 munlock mlockall munlockall
        remap_file_pages pkey_alloc pkey_free pkey_mprotect membarrier map_shadow_stack mseal
        """)

    static let processes = words(
        """
        execve execveat fork vfork exit exit_group wait4 waitid waitpid kill tkill tgkill getpid getppid
        gettid getpgid getpgrp getsid setpgid setsid prctl set_tid_address set_robust_list get_robust_list
        futex futex_time64 futex_waitv futex_wake futex_wait futex_requeue rseq restart_syscall
        sched_yield sched_getaffinity sched_setaffinity sched_getparam sched_setparam sched_getscheduler
        sched_setscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval
        sched_rr_get_interval_time64 sched_getattr sched_setattr getpriority setpriority ioprio_get ioprio_set
        getrlimit setrlimit ugetrlimit prlimit64 getrusage times capget capset pidfd_open pidfd_send_signal
        ptrace seccomp landlock_create_ruleset landlock_add_rule landlock_restrict_self uname olduname
        sysinfo getrandom getcpu get_thread_area set_thread_area arch_prctl
        """)

    static let identity = words(
        """
        getuid getuid32 geteuid geteuid32 getgid getgid32 getegid getegid32 getresuid getresuid32 getresgid
        getresgid32 getgroups getgroups32 setuid setuid32 setgid setgid32 setreuid setreuid32 setregid
        setregid32 setresuid setresuid32 setresgid setresgid32 setgroups setgroups32 setfsuid setfsuid32
        setfsgid setfsgid32
        """)

    static let signals = words(
        """
        rt_sigaction rt_sigprocmask rt_sigreturn rt_sigsuspend rt_sigpending rt_sigtimedwait
        rt_sigtimedwait_time64 rt_sigqueueinfo rt_tgsigqueueinfo sigaction sigprocmask sigreturn sigsuspend
        sigpending sigaltstack signal signalfd signalfd4 pause alarm
        """)

    static let time = words(
        """
        clock_gettime clock_gettime64 clock_getres clock_getres_time64 clock_nanosleep clock_nanosleep_time64
        nanosleep gettimeofday time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
        timerfd_settime64 getitimer setitimer
        """)

    static let events = words(
        """
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2
        eventfd eventfd2 poll ppoll ppoll_time64 select _newselect pselect6 pselect6_time64
        """)

    static let sockets = words(
        """
        socketpair bind connect listen accept accept4 getsockname getpeername getsockopt setsockopt sendto
        recvfrom sendmsg recvmsg sendmmsg recvmmsg recvmmsg_time64 shutdown socketcall
        """)

    static let ipc = words(
        """
        ipc msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl shmget shmat shmdt
        shmctl mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive mq_timedreceive_time64
        mq_notify mq_getsetattr
        """)

    /// ARM's own calls (cache maintenance, TLS, its fadvise and sync_file_range argument orders).
    static let arm = words("arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls")

    /// What `personality` may be called with: the query (0xffffffff), PER_LINUX, PER_LINUX32 and
    /// both with UNAME26.
    static let personas: [UInt64] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff]

    /// For the deny-list form: when each call the list allows only under conditions is refused,
    /// as conditions on one argument that runc ORs (it cannot AND two conditions on one argument).
    /// Their OR is the negation of the allowing conditions' OR; the tests check it value by value.
    static let refusals: [String: [RuntimeSpec.SyscallArg]] = [
        // A namespace flag set: one masked test per flag.
        "clone": (0..<64).map { UInt64(1) << $0 }.filter { namespaceCloneFlags & $0 != 0 }.map {
            .init(index: 0, value: $0, valueTwo: $0, op: "SCMP_CMP_MASKED_EQ")
        },
        "socket": [.init(index: 0, value: 38, op: "SCMP_CMP_EQ"), .init(index: 0, value: 40, op: "SCMP_CMP_EQ")],
        "personality": personalityRefusals,
    ]

    /// Every 32-bit value but ``personas``, and every wider one. A value has bit i set and bit j
    /// clear for some pair (i, j) of this chain exactly when it is not all ones and sets a bit
    /// other than 3 (PER_LINUX32) and 17 (UNAME26), or sets every bit but 3 or 17: the chain runs
    /// through the 30 other bits in a cycle and from one of them to 3 and to 17.
    static let personalityRefusals: [RuntimeSpec.SyscallArg] = {
        let others = (0..<32).filter { $0 != 3 && $0 != 17 }
        var pairs = others.indices.map { (others[$0], others[($0 + 1) % others.count]) }
        pairs += [(others[0], 3), (others[0], 17)]
        let masked = pairs.map { i, j -> RuntimeSpec.SyscallArg in
            .init(index: 0, value: UInt64(1) << i | UInt64(1) << j, valueTwo: UInt64(1) << i, op: "SCMP_CMP_MASKED_EQ")
        }
        return masked + [.init(index: 0, value: 0xffff_ffff, op: "SCMP_CMP_GT")]
    }()

    static let defaultRules: [SeccompRule] = {
        let admin = "CAP_SYS_ADMIN"
        var rules = [SeccompRule(files + memory + processes + identity + signals + time + events + sockets + ipc + arm)]
        // `personality` only to query it or to ask for the ordinary Linux (and 32-bit) personalities.
        for persona in personas {
            rules.append(SeccompRule(["personality"], args: [.init(index: 0, value: persona, op: "SCMP_CMP_EQ")]))
        }
        // socket(2) of every family but AF_ALG (38) and AF_VSOCK (40); runc ORs conditions on one argument.
        rules.append(
            SeccompRule(
                ["socket"],
                args: [
                    .init(index: 0, value: 38, op: "SCMP_CMP_LT"), .init(index: 0, value: 39, op: "SCMP_CMP_EQ"),
                    .init(index: 0, value: 40, op: "SCMP_CMP_GT"),
                ]))
        // clone(2) without namespace flags unless the container may administer the system.
        rules.append(
            SeccompRule(
                ["clone"], args: [.init(index: 0, value: namespaceCloneFlags, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")],
                unless: [admin]))
        rules.append(SeccompRule(["clone3"], .errno(SeccompAction.enosys), unless: [admin]))
        // What a capability makes useful is allowed with it.
        let gated: [(String, String)] = [
            (
                admin,
                """
                clone clone3 unshare setns mount umount umount2 pivot_root sethostname setdomainname quotactl
                quotactl_fd fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr open_tree_attr
                fanotify_init lookup_dcookie perf_event_open bpf syslog swapon swapoff iopl ioperm
                """
            ),
            ("CAP_SYS_BOOT", "reboot"),
            ("CAP_SYS_CHROOT", "chroot"),
            ("CAP_SYS_MODULE", "init_module finit_module delete_module"),
            ("CAP_SYS_PACCT", "acct"),
            ("CAP_SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev"),
            ("CAP_SYS_RAWIO", "iopl ioperm"),
            ("CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64 adjtimex clock_adjtime clock_adjtime64"),
            ("CAP_SYS_TTY_CONFIG", "vhangup"),
            ("CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node migrate_pages move_pages"),
            ("CAP_SYSLOG", "syslog"),
            ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
            ("CAP_BPF", "bpf"),
            ("CAP_PERFMON", "perf_event_open"),
        ]
        for (capability, names) in gated {
            rules.append(SeccompRule(words(names), requires: [capability]))
        }
        return rules
    }()
}
