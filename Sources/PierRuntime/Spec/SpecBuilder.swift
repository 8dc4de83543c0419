import PierSpec
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Turns validated options and an image's run defaults into an OCI runtime spec with Docker's
/// defaults: pid, mount, ipc, uts and network namespaces; Docker's capabilities; masked and
/// read-only /proc paths; only the default and declared devices; cgroup limits under
/// `/pier/<id>` — and beyond Docker's: Pier's seccomp policy resolved for the container's
/// capabilities, a private cgroup namespace, a default pids limit, no new privileges.
/// `--privileged` lifts all of it but the limits.
public struct SpecBuilder: Sendable {
    public var id: String
    public var options: ContainerOptions
    /// `options.devices` as this node has them (``DeviceMapping/init(resolving:)``).
    public var devices: [DeviceMapping]
    public var image: ImageRunConfig
    /// The mounted root filesystem; its /etc/passwd and /etc/group resolve `--user`.
    public var rootfs: URL
    /// Generated hosts, hostname and resolv.conf to bind-mount; nil keeps the image's.
    public var etcFiles: ContainerEtcFiles?
    /// Path of the network namespace to join (bridge network).
    public var networkNamespace: String?
    /// Parent of the container's cgroup, e.g. `/pier`.
    public var cgroupParent: String
    /// Whether the kernel accounts swap (`memory.memsw.*`): then swap is limited to the memory
    /// limit (no swap use). Without it runc would fail to set a swap limit.
    public var swapAccounting: Bool
    /// Replaces entrypoint + cmd as computed from the image and options.
    public var arguments: [String]?
    /// What the node supports (AppArmor, the init binary).
    public var isolation: IsolationSupport
    /// The container's user namespace; nil: the host's.
    public var userNamespace: IDMapping?
    /// Volume sources replaced by their idmapped mounts, by container path.
    public var volumeSources: [String: String]
    /// Devices given as nodes made for the user namespace, bound in, by container path.
    public var deviceSources: [String: String]

    public init(
        id: String, options: ContainerOptions, devices: [DeviceMapping] = [], image: ImageRunConfig, rootfs: URL,
        etcFiles: ContainerEtcFiles? = nil, networkNamespace: String? = nil, cgroupParent: String = "/pier",
        swapAccounting: Bool = true, arguments: [String]? = nil, isolation: IsolationSupport = .baseline,
        userNamespace: IDMapping? = nil, volumeSources: [String: String] = [:], deviceSources: [String: String] = [:]
    ) {
        self.id = id; self.options = options; self.devices = devices; self.image = image; self.rootfs = rootfs; self.etcFiles = etcFiles
        self.networkNamespace = networkNamespace; self.cgroupParent = cgroupParent
        self.swapAccounting = swapAccounting; self.arguments = arguments; self.isolation = isolation
        self.userNamespace = userNamespace; self.volumeSources = volumeSources; self.deviceSources = deviceSources
    }

    /// The container's cgroup path (runtime-spec `linux.cgroupsPath`).
    public var cgroupsPath: String { "\(cgroupParent)/\(id)" }

    /// `--hostname`, else the node's name with host networking, else the id's first 12 characters.
    public var hostname: String {
        if let h = options.hostname { return h }
        if options.network == .host { return Self.nodeHostname() }
        return String(id.prefix(12))
    }

    /// Docker's rule: the entrypoint (`--entrypoint` replaces the image's and drops its cmd),
    /// followed by the command (given, else the image's cmd).
    public static func arguments(options: ContainerOptions, image: ImageRunConfig) throws -> [String] {
        let entrypoint = options.entrypoint ?? image.entrypoint ?? []
        let cmd: [String]
        if !options.command.isEmpty {
            cmd = options.command
        } else if options.entrypoint != nil {
            cmd = []
        } else {
            cmd = image.cmd ?? []
        }
        let args = entrypoint + cmd
        guard !args.isEmpty else { throw SpecError.noCommand }
        return args
    }

    /// The image's environment overridden by the user's (same key: the user's value, in the
    /// image's position), with a default PATH and HOSTNAME as Docker sets them.
    public static func environment(image: [String], user: [String], hostname: String) -> [String] {
        var result: [String] = []
        var index: [String: Int] = [:]
        func put(_ entry: String) {
            let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
            if let i = index[key] {
                result[i] = entry
            } else {
                index[key] = result.count
                result.append(entry)
            }
        }
        for entry in image + user { put(entry) }
        if index["HOSTNAME"] == nil { result.insert("HOSTNAME=\(hostname)", at: 0) }
        if !result.contains(where: { $0.hasPrefix("PATH=") }) { result.insert("PATH=\(DefaultProfile.path)", at: 0) }
        return result
    }

    /// The process's user: `--user`, else the image's user, else root.
    public func resolveUser() throws -> ResolvedUser {
        let resolver = UserResolver(rootfs: rootfs)
        if let user = options.user { return try resolver.resolve(user, flag: "--user") }
        if let imageUser = image.user, !imageUser.isEmpty {
            let spec = try UserSpec(parsing: imageUser, flag: "image config User")
            return try resolver.resolve(spec, flag: "image config User")
        }
        return try resolver.resolve(nil)
    }

    /// Builds the spec. Reads the rootfs' /etc/passwd and /etc/group; writes nothing.
    public func build() throws -> RuntimeSpec {
        var args = try arguments ?? Self.arguments(options: options, image: image)
        if options.initProcess {
            guard isolation.initBinary != nil else {
                throw ContainerSpecError.invalid(
                    flag: "--init", value: "true", expected: "this node has no tini-static; install Debian's tini package on it")
            }
            args = [DefaultProfile.initPath, "--"] + args
        }
        let user = try resolveUser()
        let host = hostname
        var cwd = options.workdir ?? image.workingDir ?? "/"
        if cwd.isEmpty { cwd = "/" }
        if !cwd.hasPrefix("/") { cwd = "/" + cwd }

        let caps = options.privileged ? Capabilities.ownBounding : Capabilities.resolve(add: options.capAdd, drop: options.capDrop)
        // Docker: root gets the set effective and permitted; another user only has it in the
        // bounding set, as execve would leave it. Inheritable and ambient stay empty.
        let capabilities =
            user.uid == 0
            ? RuntimeSpec.Capabilities(bounding: caps, effective: caps, permitted: caps)
            : RuntimeSpec.Capabilities(bounding: caps)

        let process = RuntimeSpec.Process(
            terminal: false,
            user: RuntimeSpec.User(
                uid: user.uid, gid: user.gid, umask: Self.containerUmask, additionalGids: user.additionalGids.isEmpty ? nil : user.additionalGids),
            args: args,
            env: Self.environment(image: image.env, user: options.env, hostname: host),
            cwd: cwd,
            capabilities: capabilities,
            rlimits: rlimits,
            noNewPrivileges: options.security.noNewPrivileges,
            apparmorProfile: try appArmorProfile())

        var namespaces: [RuntimeSpec.Namespace] = [.init(type: "pid"), .init(type: "ipc"), .init(type: "uts"), .init(type: "mount")]
        if !options.privileged { namespaces.append(.init(type: "cgroup")) }
        if userNamespace != nil { namespaces.append(.init(type: "user")) }
        switch options.network {
        case .bridge:
            guard let networkNamespace else { throw SpecError.missingNetworkNamespace(id: id) }
            namespaces.append(.init(type: "network", path: networkNamespace))
        case .none:
            namespaces.append(.init(type: "network"))
        case .host:
            break
        }

        var mounts = DefaultProfile.mounts.map { mount -> RuntimeSpec.Mount in
            var mount = mount
            if mount.destination == "/dev/shm", let size = options.shmSize {
                mount.options = mount.options?.map { $0.hasPrefix("size=") ? "size=\(size.bytes)" : $0 }
            }
            // Privileged: /sys and the cgroup tree writable, as Docker gives them.
            if options.privileged, mount.destination == "/sys" || mount.destination == "/sys/fs/cgroup" {
                mount.options = mount.options?.map { $0 == "ro" ? "rw" : $0 }
            }
            // sysfs can only be mounted by the owner of the network namespace, and a bridge
            // network's belongs to the host: the host's /sys is bound read-only instead, as crun
            // and Podman do.
            if userNamespace != nil, options.network != .none, mount.destination == "/sys" {
                mount = .init(destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"])
            }
            return mount
        }
        if let etcFiles { mounts += etcFiles.mounts(readOnly: options.readOnly) }
        // Parents before children, as Docker orders them, so a nested volume is not hidden.
        let volumes = options.volumes.enumerated().sorted { a, b in
            let da = a.element.destination.split(separator: "/").count, db = b.element.destination.split(separator: "/").count
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)
        mounts += volumes.map { v in
            RuntimeSpec.Mount(
                destination: v.destination, type: "bind", source: volumeSources[v.destination] ?? v.source,
                options: ["rbind", "rprivate", v.readOnly ? "ro" : "rw"])
        }
        mounts += options.tmpfs.map { .init(destination: $0.destination, type: "tmpfs", source: "tmpfs", options: $0.mountOptions) }
        if options.initProcess, let binary = isolation.initBinary {
            mounts.append(.init(destination: DefaultProfile.initPath, type: "bind", source: binary, options: ["bind", "ro", "nosuid", "nodev"]))
        }

        var devices = DefaultProfile.devices
        var deviceRules = DefaultProfile.deviceRules
        if options.privileged {
            devices = Self.hostDevices()
            deviceRules = [.init(allow: true, access: "rwm")]
        }
        for d in self.devices {
            devices.removeAll { $0.path == d.containerPath }
            deviceRules.append(.init(allow: true, type: d.kind.rawValue, major: d.major, minor: d.minor, access: d.permissions))
            if let source = deviceSources[d.containerPath] {
                mounts.append(.init(destination: d.containerPath, type: "bind", source: source, options: ["bind", "nosuid", "noexec"]))
                continue
            }
            devices.append(
                .init(
                    path: d.containerPath, type: d.kind.rawValue, major: d.major, minor: d.minor,
                    fileMode: d.fileMode, uid: d.uid, gid: d.gid))
        }

        var resources = RuntimeSpec.Resources(devices: deviceRules)
        if let memory = options.memory {
            resources.memory = .init(limit: memory.bytes, swap: swapAccounting ? memory.bytes : nil)
        }
        if let cpus = options.cpus {
            resources.cpu = .init(quota: cpus.quota, period: CPULimit.period)
        }
        if let pids = options.pidsLimit {
            resources.pids = .init(limit: pids)
        }

        return RuntimeSpec(
            process: process,
            root: .init(path: rootfs.path, readonly: options.readOnly ? true : nil),
            hostname: host,
            mounts: mounts,
            linux: .init(
                namespaces: namespaces, devices: devices, cgroupsPath: cgroupsPath, resources: resources,
                maskedPaths: options.privileged ? nil : DefaultProfile.maskedPaths,
                readonlyPaths: options.privileged ? nil : DefaultProfile.readonlyPaths,
                sysctl: options.sysctls.isEmpty ? nil : options.sysctls,
                seccomp: seccomp(capabilities: caps),
                uidMappings: userNamespace.map { [.init(containerID: 0, hostID: $0.uidStart, size: $0.count)] },
                gidMappings: userNamespace.map { [.init(containerID: 0, hostID: $0.gidStart, size: $0.count)] }))
    }

    /// Open files as Docker sets them, then the container's `--ulimit`s (the same resource: the user's).
    var rlimits: [RuntimeSpec.Rlimit] {
        var result = [RuntimeSpec.Rlimit(type: "RLIMIT_NOFILE", hard: DefaultProfile.nofile, soft: DefaultProfile.nofile)]
        for limit in options.ulimits {
            result.removeAll { $0.type == limit.specType }
            result.append(.init(type: limit.specType, hard: limit.hard, soft: limit.soft))
        }
        return result
    }

    /// The filter: none when privileged or unconfined, else the policy resolved for `capabilities`.
    func seccomp(capabilities: [String]) -> RuntimeSpec.Seccomp? {
        guard !options.privileged else { return nil }
        switch options.security.seccomp {
        case .unconfined: return nil
        // A runc without libseccomp refuses every filter: the default then goes without (as `pier info` says).
        case .pierDefault:
            return isolation.seccomp
                ? SeccompPolicy.resolvedDefault(capabilities: capabilities, imageArchitecture: image.architecture) : nil
        case .profile(let policy): return policy.resolve(capabilities: capabilities)
        }
    }

    /// The AppArmor profile: none where the kernel lacks AppArmor (asking for one there is an
    /// error), `unconfined` for privileged containers, else the one asked for or Pier's default.
    func appArmorProfile() throws -> String? {
        let asked = options.security.apparmor
        guard isolation.appArmor else {
            if let asked, asked != "unconfined" { throw AppArmorError.notEnabled(profile: asked) }
            return nil
        }
        if options.privileged { return asked ?? "unconfined" }
        return asked ?? isolation.appArmorProfile
    }

    /// Every character and block device in the host's /dev (not its pseudo-terminals), for
    /// `--privileged`.
    static func hostDevices() -> [RuntimeSpec.Device] {
        var result: [RuntimeSpec.Device] = []
        let skip: Set<String> = ["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/console", "/dev/ptmx", "/dev/fd", "/dev/hugepages"]
        func walk(_ dir: String, depth: Int) {
            guard depth < 4, let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
            for name in entries.sorted() {
                let path = dir + "/" + name
                guard !skip.contains(path) else { continue }
                var st = stat()
                guard lstat(path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    walk(path, depth: depth + 1)
                case S_IFCHR, S_IFBLK:
                    let type = (st.st_mode & S_IFMT) == S_IFCHR ? "c" : "b"
                    result.append(
                        .init(
                            path: path, type: type, major: Int64(SystemCalls.major(UInt64(st.st_rdev))), minor: Int64(SystemCalls.minor(UInt64(st.st_rdev))),
                            fileMode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid))
                default:
                    continue
                }
            }
        }
        walk("/dev", depth: 0)
        return result
    }

    /// A process for `runc exec` in a running container: the container's own process settings
    /// (capabilities, rlimits, environment) with this command, extra environment, directory and user.
    public static func execProcess(
        base: RuntimeSpec.Process, command: [String], env: [String], workdir: String?,
        user: ResolvedUser?
    ) -> RuntimeSpec.Process {
        var process = base
        process.args = command
        process.terminal = false
        var merged = base.env ?? []
        for entry in env {
            let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            merged.removeAll { $0.split(separator: "=", maxSplits: 1).first.map(String.init) == key }
            merged.append(entry)
        }
        process.env = merged
        if let workdir, !workdir.isEmpty { process.cwd = workdir }
        if let user {
            process.user = RuntimeSpec.User(
                uid: user.uid, gid: user.gid, umask: containerUmask, additionalGids: user.additionalGids.isEmpty ? nil : user.additionalGids)
            if let bounding = base.capabilities?.bounding {
                process.capabilities =
                    user.uid == 0
                    ? RuntimeSpec.Capabilities(bounding: bounding, effective: bounding, permitted: bounding)
                    : RuntimeSpec.Capabilities(bounding: bounding)
            }
        }
        return process
    }

    /// The umask of a container's processes: Docker's 022, stated, because the agent itself runs
    /// with 077 and runc would otherwise pass that on.
    public static let containerUmask: UInt32 = 0o022

    static func nodeHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
