import PierSpec
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Containers in a user namespace (`--userns remap`, or the node's `pier agent --userns remap`).
///
/// runc 1.1 mounts the root filesystem and every bind source from inside the new user
/// namespace, as the mapped root: an unprivileged uid on the host, which cannot search a
/// private data root. So the container's directory is bound (with its mounts) below
/// `RuntimeConfiguration.remapRoot`, a path every user may search, and the spec names
/// everything by that path:
///
///     <remapRoot>/<id>/            the container directory, bound (0711, searchable only)
///         rootfs/                  the overlay: idmapped lower layers, upper owned by the mapped root
///         etc/                     hosts, hostname, resolv.conf, owned by the mapped root
///         idmap/volume-N           each volume, idmapped: its files keep their owners on disk
///         devices/N                each --device, a node owned by the mapped ids
extension RuncRuntime {
    /// What a remapped container's spec names instead of the host's paths.
    struct RemappedPaths {
        var rootfs: URL
        var etcFiles: ContainerEtcFiles
        /// Container path → the idmapped mount of that volume.
        var volumeSources: [String: String]
        /// Container path → the node made for that device.
        var deviceSources: [String: String]
    }

    /// The mapping of a container that asked for (or defaults to) `--userns remap`; nil: the
    /// host's. Throws, before anything is made, what a remapped container cannot have here.
    public func userNamespace(for options: ContainerOptions) throws -> IDMapping? {
        guard (options.userns ?? configuration.userns) == .remap else { return nil }
        let byDefault = options.userns == nil ? " (this node remaps every container: pier agent --userns remap)" : ""
        if options.privileged {
            throw ContainerSpecError.conflict("--privileged needs the host's user namespace\(byDefault); give --userns host")
        }
        if options.network == .host {
            throw ContainerSpecError.conflict("--network host needs the host's user namespace\(byDefault); give --userns host")
        }
        if options.network == .bridge, let key = options.sysctls.keys.sorted().first(where: { $0.hasPrefix("net.") }) {
            throw ContainerSpecError.conflict(
                "--sysctl \(key): the bridge network's namespace belongs to the host, so a remapped root cannot set it\(byDefault); give --userns host or --network none")
        }
        if !options.volumes.isEmpty && isolation.layerIDMapping != .idmapped {
            throw UserNamespaceError.unsupported(
                "--volume \(options.volumes[0].source) needs an idmapped mount (Linux 5.19 or later) to keep its files' owners, and this node cannot make one\(byDefault); give --userns host")
        }
        return try subordinateIDs()
    }

    /// The node's `pier` range: read once, and added to /etc/subuid and /etc/subgid when absent.
    public func subordinateIDs() throws -> IDMapping {
        if let known = subordinateRange.withLock({ $0 }) { return known }
        let mapping = try SubordinateIDs.ensure(subuid: configuration.subuidPath, subgid: configuration.subgidPath)
        subordinateRange.withLock { $0 = mapping }
        return mapping
    }

    /// The node's range as it stands, without adding one (`pier info`): nil when there is none
    /// yet, and why it cannot be used when it cannot.
    public func subordinateIDsIfPresent() -> (range: IDMapping?, problem: String?) {
        if let known = subordinateRange.withLock({ $0 }) { return (known, nil) }
        do {
            return (try SubordinateIDs.lookup(subuid: configuration.subuidPath, subgid: configuration.subgidPath), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    /// Where `id`'s directory is bound for runc while it runs remapped.
    func remappedView(id: String) -> URL { configuration.remapRoot.appendingPathComponent(id) }

    /// Mounts the container's volumes idmapped, makes its device nodes, and binds its directory
    /// (with the overlay and those mounts) below the searchable root. The rootfs is mounted.
    func makeRemappedView(
        id: String, layout: ContainerLayout, options: ContainerOptions, devices: [DeviceMapping], mapping: IDMapping,
        idmap: (userns: Int32, directory: URL)?
    ) throws -> RemappedPaths {
        let view = remappedView(id: id)
        var volumeSources: [String: String] = [:]
        if !options.volumes.isEmpty, let idmap {
            try FileManager.default.makeDirectory(idmap.directory)
            chmod(idmap.directory.path, 0o711)
            for (index, volume) in options.volumes.enumerated() {
                let name = "volume-\(index)"
                try UserNamespaces.mountIDMapped(
                    source: volume.source, target: idmap.directory.appendingPathComponent(name).path, userns: idmap.userns,
                    readOnly: volume.readOnly)
                volumeSources[volume.destination] = view.appendingPathComponent("idmap/\(name)").path
            }
        }
        var deviceSources: [String: String] = [:]
        if !devices.isEmpty {
            let directory = layout.directory.appendingPathComponent("devices")
            try? FileManager.default.removeItem(at: directory)
            try FileManager.default.makeDirectory(directory)
            chmod(directory.path, 0o711)
            for (index, device) in devices.enumerated() {
                let node = directory.appendingPathComponent("\(index)")
                try Self.makeDeviceNode(device, at: node.path, mapping: mapping)
                deviceSources[device.containerPath] = view.appendingPathComponent("devices/\(index)").path
            }
        }
        try Self.makeSearchable(configuration.remapRoot)
        try FileManager.default.makeDirectory(view)
        guard Glibc.mount(layout.directory.path, view.path, nil, UInt(MS_BIND | MS_REC), nil) == 0 else {
            throw UserNamespaceError.unsupported("cannot bind \(layout.directory.path) at \(view.path): \(SystemCalls.errorString(errno))")
        }
        // Its own mounts: what happens below the container directory later is not mirrored here.
        _ = Glibc.mount(nil, view.path, nil, UInt(MS_PRIVATE | MS_REC), nil)
        return RemappedPaths(
            rootfs: view.appendingPathComponent("rootfs"), etcFiles: ContainerEtcFiles(directory: view.appendingPathComponent("etc")),
            volumeSources: volumeSources, deviceSources: deviceSources)
    }

    /// Detaches `id`'s view (with everything bound below it) and removes its mount point.
    func removeRemappedView(id: String) throws {
        let view = remappedView(id: id)
        guard FileManager.default.fileExists(atPath: view.path) else { return }
        if umount2(view.path, Int32(MNT_DETACH)) != 0 && errno != EINVAL && errno != ENOENT {
            throw RootfsError.unmountFailed(target: view.path, reason: SystemCalls.errorString(errno))
        }
        if rmdir(view.path) != 0 && errno != ENOENT {
            throw RootfsError.unmountFailed(target: view.path, reason: "rmdir: \(SystemCalls.errorString(errno))")
        }
    }

    /// A device node like the host's, owned by the mapped ids of the host node's owner, so the
    /// container's root (or the group the node belongs to) can open it as on the host. runc
    /// cannot create nodes in a user namespace and binds the host's, which the mapped root
    /// could not open unless it is open to everyone.
    static func makeDeviceNode(_ device: DeviceMapping, at path: String, mapping: IDMapping) throws {
        let type: mode_t = device.kind == .character ? S_IFCHR : S_IFBLK
        let dev = SystemCalls.makedev(UInt32(truncatingIfNeeded: device.major), UInt32(truncatingIfNeeded: device.minor))
        unlink(path)
        guard mknod(path, type | mode_t(device.fileMode & 0o777), dev_t(dev)) == 0 else {
            throw UserNamespaceError.unsupported("--device \(device.hostPath): cannot make its node for the remapped root: \(SystemCalls.errorString(errno))")
        }
        let uid = device.uid < mapping.count ? mapping.uidStart + device.uid : mapping.uidStart
        let gid = device.gid < mapping.count ? mapping.gidStart + device.gid : mapping.gidStart
        guard chown(path, uid, gid) == 0, chmod(path, mode_t(device.fileMode & 0o777)) == 0 else {
            throw UserNamespaceError.unsupported("--device \(device.hostPath): cannot hand its node to the remapped root: \(SystemCalls.errorString(errno))")
        }
    }

    /// Creates `directory` and its missing parents as 0711, and makes `directory` itself 0711
    /// (an agent's umask may have made it private).
    static func makeSearchable(_ directory: URL) throws {
        var missing: [String] = []
        var path = directory.path
        while !path.isEmpty, path != "/", !FileManager.default.fileExists(atPath: path) {
            missing.append(path)
            path = (path as NSString).deletingLastPathComponent
        }
        for dir in missing.reversed() where mkdir(dir, 0o711) != 0 && errno != EEXIST {
            throw UserNamespaceError.unsupported("cannot create \(dir): \(SystemCalls.errorString(errno))")
        }
        for dir in missing + [directory.path] { chmod(dir, 0o711) }
    }
}
