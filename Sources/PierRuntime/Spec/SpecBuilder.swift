import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Turns validated options and an image's run defaults into an OCI runtime spec with Docker's
/// defaults: pid, mount, ipc, uts and network namespaces; Docker's capabilities; masked and
/// read-only /proc paths; only the default and declared devices; cgroup limits under
/// `/pier/<id>`. No seccomp profile yet.
public struct SpecBuilder: Sendable {
    public var id: String
    public var options: ContainerOptions
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

    public init(
        id: String, options: ContainerOptions, image: ImageRunConfig, rootfs: URL,
        etcFiles: ContainerEtcFiles? = nil, networkNamespace: String? = nil, cgroupParent: String = "/pier",
        swapAccounting: Bool = true, arguments: [String]? = nil
    ) {
        self.id = id; self.options = options; self.image = image; self.rootfs = rootfs; self.etcFiles = etcFiles
        self.networkNamespace = networkNamespace; self.cgroupParent = cgroupParent
        self.swapAccounting = swapAccounting; self.arguments = arguments
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
        let args = try arguments ?? Self.arguments(options: options, image: image)
        let user = try resolveUser()
        let host = hostname
        var cwd = options.workdir ?? image.workingDir ?? "/"
        if cwd.isEmpty { cwd = "/" }
        if !cwd.hasPrefix("/") { cwd = "/" + cwd }

        let caps = Capabilities.resolve(add: options.capAdd, drop: options.capDrop)
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
            rlimits: [RuntimeSpec.Rlimit(type: "RLIMIT_NOFILE", hard: DefaultProfile.nofile, soft: DefaultProfile.nofile)],
            noNewPrivileges: true)

        var namespaces: [RuntimeSpec.Namespace] = [.init(type: "pid"), .init(type: "ipc"), .init(type: "uts"), .init(type: "mount")]
        switch options.network {
        case .bridge:
            guard let networkNamespace else { throw SpecError.missingNetworkNamespace(id: id) }
            namespaces.append(.init(type: "network", path: networkNamespace))
        case .none:
            namespaces.append(.init(type: "network"))
        case .host:
            break
        }

        var mounts = DefaultProfile.mounts
        if let etcFiles { mounts += etcFiles.mounts(readOnly: options.readOnly) }
        // Parents before children, as Docker orders them, so a nested volume is not hidden.
        let volumes = options.volumes.enumerated().sorted { a, b in
            let da = a.element.destination.split(separator: "/").count, db = b.element.destination.split(separator: "/").count
            return da != db ? da < db : a.offset < b.offset
        }.map(\.element)
        mounts += volumes.map { v in
            RuntimeSpec.Mount(
                destination: v.destination, type: "bind", source: v.source,
                options: ["rbind", "rprivate", v.readOnly ? "ro" : "rw"])
        }

        var devices = DefaultProfile.devices
        var deviceRules = DefaultProfile.deviceRules
        for d in options.devices {
            devices.removeAll { $0.path == d.containerPath }
            devices.append(
                .init(
                    path: d.containerPath, type: d.kind.rawValue, major: d.major, minor: d.minor,
                    fileMode: d.fileMode, uid: d.uid, gid: d.gid))
            deviceRules.append(.init(allow: true, type: d.kind.rawValue, major: d.major, minor: d.minor, access: d.permissions))
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
                maskedPaths: DefaultProfile.maskedPaths, readonlyPaths: DefaultProfile.readonlyPaths))
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
