import PierSpec

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Docker's hardened defaults for a container (moby `oci.DefaultLinuxSpec` and runc's
/// allowed devices), which `SpecBuilder` starts from.
///
/// With them every non-privileged container gets Pier's seccomp policy
/// (`SeccompPolicy.pierDefault`), a private cgroup namespace and a pids limit.
public enum DefaultProfile {
    /// Processes a container may have unless `--pids-limit` says otherwise: enough for any
    /// service a gateway runs, and a fork bomb stops here instead of exhausting the node.
    public static let pidsLimit: Int64 = ContainerOptions.defaultPidsLimit

    /// /dev/shm's size unless `--shm-size` says otherwise (Docker's 64 MiB).
    public static let shmSize: Int64 = 64 << 20

    /// Where `--init` puts the init binary in the container (Docker's path).
    public static let initPath = "/sbin/docker-init"

    /// Paths in /proc and /sys hidden from the container (a null device or an empty tmpfs over them).
    public static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]

    /// Paths in /proc remounted read-only.
    public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

    /// The kernel filesystems every container gets.
    public static let mounts: [RuntimeSpec.Mount] = [
        .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
        .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        .init(
            destination: "/dev/pts", type: "devpts", source: "devpts",
            options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        .init(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
        .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
        .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        .init(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ]

    /// Device nodes every container has in its /dev (besides the pts ones).
    public static let devices: [RuntimeSpec.Device] = [
        .init(path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0),
        .init(path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0),
        .init(path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0),
        .init(path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0),
        .init(path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0),
        .init(path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0),
    ]

    /// The device cgroup: deny everything, then allow mknod (useless without read/write), the
    /// default devices, pseudo-terminals. Declared `--device`s are appended by `SpecBuilder`.
    public static let deviceRules: [RuntimeSpec.DeviceRule] = {
        var rules: [RuntimeSpec.DeviceRule] = [
            .init(allow: false, access: "rwm"),
            .init(allow: true, type: "c", access: "m"),
            .init(allow: true, type: "b", access: "m"),
        ]
        rules += devices.map { .init(allow: true, type: $0.type, major: $0.major, minor: $0.minor, access: "rwm") }
        rules.append(.init(allow: true, type: "c", major: 136, access: "rwm"))  // /dev/pts/*
        rules.append(.init(allow: true, type: "c", major: 5, minor: 2, access: "rwm"))  // /dev/ptmx
        return rules
    }()

    /// Open files per process: Docker's usual 1048576, or this process's own hard limit when
    /// that is lower (raising it needs CAP_SYS_RESOURCE, which a confined agent may lack).
    public static let nofile: UInt64 = {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_CONSTANT, &limit) == 0 else { return 1024 }
        return min(1_048_576, UInt64(limit.rlim_max))
    }()

    private static let RLIMIT_NOFILE_CONSTANT = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

    /// The PATH a container gets when neither the image nor the user sets one.
    public static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}
