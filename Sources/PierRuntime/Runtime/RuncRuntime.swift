import PierSpec
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The runtime: overlayfs root filesystems, CNI bridge networking, OCI specs with Docker's
/// defaults, runc under `pier-shim`, cgroup statistics.
public final class RuncRuntime: ContainerRuntime {
    public let configuration: RuntimeConfiguration
    public let runc: Runc
    public let shim: ShimLauncher
    public let network: CNINetwork
    public let cgroups: Cgroups
    /// Overlaps the kernel's wait before a cgroup migration with the agent's preparation.
    public let migrationPrimer: CgroupMigrationPrimer
    /// What this node gives containers (seccomp, cgroup namespaces, AppArmor, `--init`).
    public let isolation: IsolationSupport
    /// Why part of the isolation could not be set up (Pier's AppArmor profile not loaded), if so.
    public let isolationProblem: String?
    /// The user namespaces idmapped mounts are made with, one per range.
    public let userNamespaces = UserNamespaces()
    /// Layer copies for remapped containers where mounts cannot be idmapped.
    public let chownedLayers: ChownedLayers
    /// The node's `pier` range, once read (and added where absent).
    let subordinateRange = Mutex<IDMapping?>(nil)

    /// Finds runc and the shim, and prepares the state directories and the CNI conflist.
    public init(configuration: RuntimeConfiguration) throws {
        self.configuration = configuration
        let runcRoot = configuration.dataRoot.appendingPathComponent("runc")
        try FileManager.default.makeDirectory(runcRoot)
        runc = Runc(binary: try configuration.runcPath ?? Runc.locate(), root: runcRoot.path)
        shim = ShimLauncher(shimPath: try configuration.shimPath ?? ShimLauncher.locate(), startTimeout: configuration.startTimeout)
        network = try CNINetwork(configuration: configuration.network, dataRoot: configuration.dataRoot)
        cgroups = Cgroups(root: configuration.cgroupRoot, parent: configuration.cgroupParent)
        migrationPrimer = CgroupMigrationPrimer(root: configuration.cgroupRoot, version: cgroups.version)
        var (support, problem) = IsolationSupport.detect(
            runc: runc.binary, profileDirectory: configuration.dataRoot.appendingPathComponent("apparmor"))
        support.layerIDMapping =
            configuration.layerIDMapping
            ?? (UserNamespaces.probeIDMappedOverlay(in: configuration.dataRoot) ? .idmapped : .chownedCopy)
        support.usernsDefault = configuration.userns
        (isolation, isolationProblem) = (support, problem)
        chownedLayers = ChownedLayers(root: configuration.dataRoot.appendingPathComponent("userns-layers"))
        chownedLayers.prune()
        // A node that remaps every container needs its range before it takes any.
        if configuration.userns == .remap { _ = try subordinateIDs() }
    }

    /// A container is about to start: begins, in the background, what can overlap with
    /// preparing it (see `CgroupMigrationPrimer`). Returns at once.
    public func anticipateStart() { migrationPrimer.prime() }

    /// `prepare` then `start`.
    public func launch(_ request: LaunchRequest) async throws -> LaunchedContainer {
        try await start(try await prepare(request))
    }

    /// Everything but starting: mounts the rootfs, sets up the network, writes the etc files
    /// and `config.json`. On failure what it made is undone before it throws.
    public func prepare(_ request: LaunchRequest) async throws -> PreparedContainer {
        let layout = request.layout
        let id = request.id
        var mounted = false
        var networked = false
        do {
            // Checked before anything is made: the range, and what a remapped container cannot have.
            let devices = try request.options.devices.map(DeviceMapping.init(resolving:))
            let mapping = try userNamespace(for: request.options)
            try FileManager.default.makeDirectory(layout.directory)
            var layers = request.layers
            var idmap: (userns: Int32, directory: URL)?
            if let mapping {
                try removeRemappedView(id: id)
                // Searchable, not readable: runc's init reaches rootfs/ and etc/ through it as the mapped root.
                chmod(layout.directory.path, 0o711)
                if isolation.layerIDMapping == .idmapped {
                    idmap = (try userNamespaces.descriptor(for: mapping), layout.idmapDirectory)
                } else {
                    layers = try chownedLayers.prepare(layers, mapping: mapping)
                }
            }
            let rootfs = OverlayRootfs(
                layers: layers, upper: layout.upper, work: layout.work,
                target: layout.rootfs, emptyLower: layout.emptyLower, idmap: idmap, owner: mapping)
            mounted = true
            try rootfs.mount()
            var attachment: NetworkAttachment?
            if request.options.network == .bridge {
                networked = true
                // A container that cannot reconfigure its network may hand its namespace on.
                let capabilities = Capabilities.resolve(add: request.options.capAdd, drop: request.options.capDrop)
                let reusable = !capabilities.contains("CAP_NET_ADMIN") && !capabilities.contains("CAP_SYS_ADMIN")
                attachment = try await network.setUp(id: id, ports: request.options.ports, reusable: reusable)
            }
            var remapped: RemappedPaths?
            if let mapping {
                remapped = try makeRemappedView(
                    id: id, layout: layout, options: request.options, devices: devices, mapping: mapping, idmap: idmap)
            }
            let builder = SpecBuilder(
                id: id, options: request.options, devices: devices, image: request.image, rootfs: remapped?.rootfs ?? layout.rootfs,
                etcFiles: remapped?.etcFiles ?? layout.etcFiles,
                networkNamespace: attachment?.namespacePath, cgroupParent: configuration.cgroupParent,
                swapAccounting: cgroups.swapAccounting, arguments: request.arguments, isolation: isolation,
                userNamespace: mapping, volumeSources: remapped?.volumeSources ?? [:], deviceSources: remapped?.deviceSources ?? [:])
            let spec = try builder.build()
            try layout.etcFiles.write(
                hostname: builder.hostname, ipAddress: attachment?.ipAddress, network: request.options.network,
                resolvConfText: request.options.network == .bridge ? request.resolvConf : nil)
            if let mapping { layout.etcFiles.chown(to: mapping) }
            try spec.write(toBundle: layout.bundle)
            let shimConfiguration = ShimConfiguration(
                id: id, bundle: layout.bundle, runcPath: runc.binary, runcRoot: URL(fileURLWithPath: runc.root),
                logPath: layout.logPath, exitFile: layout.exitFile, pidFile: layout.pidFile, foreground: request.foreground,
                logMaxSize: request.options.logMaxSize, logMaxFiles: request.options.logMaxFiles, shimLog: layout.shimLog)
            return PreparedContainer(id: id, layout: layout, spec: spec, network: attachment, shim: shimConfiguration)
        } catch {
            if networked { await network.tearDown(id: id) }
            if mounted {
                try? removeRemappedView(id: id)
                try? OverlayRootfs.unmount(layout.rootfs)
                try? OverlayRootfs.unmountAll(under: layout.idmapDirectory)
            }
            throw error
        }
    }

    /// Starts a prepared container under its shim. On failure everything `prepare` made is
    /// undone before it throws (the exit file keeps runc's error).
    public func start(_ prepared: PreparedContainer) async throws -> LaunchedContainer {
        let id = prepared.id
        do {
            let handle: ShimHandle
            do {
                handle = try await shim.launch(prepared.shim)
            } catch ShimError.startFailed(_, let message) where message.contains("already exists") {
                // runc state left by a crash under the same id: remove it and try once more.
                try? await runc.delete(id: id, force: true)
                handle = try await shim.launch(prepared.shim)
            }
            return LaunchedContainer(shimPID: handle.shimPID, containerPID: handle.containerPID, network: prepared.network)
        } catch {
            _ = await cleanup(id: id, layout: prepared.layout)
            throw error
        }
    }

    public func signal(id: String, signal: Signal, all: Bool = false) async throws {
        try await runc.kill(id: id, signal: signal, all: all)
    }

    public func exec(
        id: String, layout: ContainerLayout, command: [String], env: [String] = [], workdir: String? = nil,
        user: String? = nil, timeout: Duration? = nil,
        output: @escaping @Sendable (ProcessOutput) -> Void
    ) async throws -> Int32 {
        let spec = try RuntimeSpec.read(fromBundle: layout.bundle)
        guard let base = spec.process else { throw SpecError.noCommand }
        guard !command.isEmpty else { throw ContainerSpecError.invalid(flag: "exec", value: "", expected: "give a command to run") }
        for entry in env where !entry.contains("=") || entry.hasPrefix("=") {
            throw ContainerSpecError.invalid(flag: "--env", value: entry, expected: "expected KEY=VALUE with a non-empty KEY")
        }
        var resolved: ResolvedUser?
        if let user, !user.isEmpty {
            resolved = try UserResolver(rootfs: layout.rootfs).resolve(try UserSpec(parsing: user), flag: "--user")
        }
        let process = SpecBuilder.execProcess(base: base, command: command, env: env, workdir: workdir, user: resolved)
        return try await runc.exec(id: id, process: process, scratch: layout.directory, timeout: timeout, output: output)
    }

    public func stats(id: String) throws -> ResourceUsage {
        try cgroups.stats(id: id)
    }

    public func cleanup(id: String, layout: ContainerLayout) async -> [String] {
        var problems: [String] = []
        if hasRuncState(id) {
            do { try await runc.delete(id: id, force: true) } catch { problems.append("\(error)") }
        }
        problems += await network.tearDown(id: id)
        do { try removeRemappedView(id: id) } catch { problems.append("\(error)") }
        do { try OverlayRootfs.unmount(layout.rootfs) } catch { problems.append("\(error)") }
        do { try OverlayRootfs.unmountAll(under: layout.idmapDirectory) } catch { problems.append("\(error)") }
        problems += cgroups.remove(id: id)
        return problems
    }

    /// `cleanup`, then deletes the container's directory (upper layer, logs, everything).
    public func remove(id: String, layout: ContainerLayout) async -> [String] {
        var problems = await cleanup(id: id, layout: layout)
        guard !OverlayRootfs.isMounted(layout.rootfs) else {
            return problems + ["\(layout.rootfs.path) is still mounted; its directory was kept"]
        }
        do {
            if FileManager.default.fileExists(atPath: layout.directory.path) {
                try FileManager.default.removeItem(at: layout.directory)
            }
        } catch {
            problems.append("cannot remove \(layout.directory.path): \(error.localizedDescription)")
        }
        return problems
    }

    public func exitRecord(layout: ContainerLayout) -> ExitRecord? {
        ExitRecord.read(from: layout.exitFile)
    }

    public func waitForExit(pid: Int32) async -> ProcessExit {
        await ProcessWatcher.waitForExit(pid: pid)
    }

    public func isShimAlive(pid: Int32, id: String) -> Bool {
        ShimProcess.isAlive(pid: pid, id: id)
    }

    /// Whether runc keeps state for `id` (cheaper than asking runc).
    private func hasRuncState(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: URL(fileURLWithPath: runc.root).appendingPathComponent(id).path)
    }
}
