import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A container's root filesystem: the image's unpacked layers stacked read-only by overlayfs,
/// with the container's own upper (writes) and work directories.
public struct OverlayRootfs: Sendable {
    /// Overlayfs refuses more lower layers than this.
    public static let maxLayers = 500

    /// Unpacked layer directories, top-most first (overlayfs `lowerdir` order).
    public var layers: [URL]
    public var upper: URL
    public var work: URL
    public var target: URL
    /// The lower directory used when the image has no layers.
    public var emptyLower: URL
    /// For a container in a user namespace: each lower layer is mounted idmapped below
    /// `directory` through `userns`, and the overlay stacks those.
    public var idmap: (userns: Int32, directory: URL)?
    /// For a container in a user namespace: the mapped root owns the upper and work directories.
    public var owner: IDMapping?

    public init(
        layers: [URL], upper: URL, work: URL, target: URL, emptyLower: URL, idmap: (userns: Int32, directory: URL)? = nil,
        owner: IDMapping? = nil
    ) {
        self.layers = layers; self.upper = upper; self.work = work; self.target = target; self.emptyLower = emptyLower
        self.idmap = idmap; self.owner = owner
    }

    /// Mounts the overlay at `target`, creating the container's directories. A mount already
    /// at `target` (from an earlier run) is replaced.
    public func mount() throws {
        guard layers.count <= Self.maxLayers else { throw RootfsError.tooManyLayers(count: layers.count) }
        let fm = FileManager.default
        for dir in [upper, work, target] + (layers.isEmpty ? [emptyLower] : []) {
            try fm.makeDirectory(dir)
        }
        // The root directory a container sees is the upper one's: 0755, whatever the daemon's umask (077).
        for dir in [upper, target] + (layers.isEmpty ? [emptyLower] : []) { chmod(dir.path, 0o755) }
        for layer in layers where !fm.fileExists(atPath: layer.path) {
            throw RootfsError.layerMissing(path: layer.path)
        }
        if Self.isMounted(target) { try Self.unmount(target) }

        var lowers = layers.isEmpty ? [emptyLower.path] : layers.map(\.path)
        if let idmap {
            try Self.unmountAll(under: idmap.directory)
            lowers = try lowers.enumerated().map { index, lower in
                let mapped = idmap.directory.appendingPathComponent("\(index)").path
                try UserNamespaces.mountIDMapped(source: lower, target: mapped, userns: idmap.userns, readOnly: true)
                return mapped
            }
        }
        if let owner {
            for dir in [upper, work] where lchown(dir.path, owner.uidStart, owner.gidStart) != 0 {
                throw RootfsError.mountFailed(target: target.path, reason: "chown \(dir.path) to the mapped root: \(SystemCalls.errorString(errno))")
            }
        }
        var options = Self.options(lowers: lowers, upper: upper.path, work: work.path)
        var descriptors: [Int32] = []
        defer { for fd in descriptors { close(fd) } }
        // Mount options must fit in one page. With many layers (or paths overlayfs cannot
        // escape), name each directory by a short /proc/self/fd link instead: the kernel
        // resolves it when mounting, and no process-wide chdir is needed.
        let unsafe = (lowers + [upper.path, work.path]).contains { $0.contains(",") || $0.contains(":") }
        if options.utf8.count >= 4000 || unsafe {
            func short(_ path: String) throws -> String {
                let fd = open(path, SystemCalls.openPathOnly | O_DIRECTORY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw RootfsError.mountFailed(target: target.path, reason: "open \(path): \(SystemCalls.errorString(errno))")
                }
                descriptors.append(fd)
                return "/proc/self/fd/\(fd)"
            }
            options = Self.options(lowers: try lowers.map(short), upper: try short(upper.path), work: try short(work.path))
            guard options.utf8.count < 4000 else { throw RootfsError.tooManyLayers(count: layers.count) }
        }
        guard Glibc.mount("overlay", target.path, "overlay", 0, options) == 0 else {
            throw RootfsError.mountFailed(target: target.path, reason: SystemCalls.errorString(errno))
        }
    }

    static func options(lowers: [String], upper: String, work: String) -> String {
        "lowerdir=\(lowers.joined(separator: ":")),upperdir=\(upper),workdir=\(work)"
    }

    /// Whether something is mounted at `url` (its device differs from its parent's).
    public static func isMounted(_ url: URL) -> Bool {
        var st = stat(), parent = stat()
        guard stat(url.path, &st) == 0, stat(url.deletingLastPathComponent().path, &parent) == 0 else { return false }
        return st.st_dev != parent.st_dev
    }

    /// Unmounts `target`, detaching it lazily when busy. Nothing mounted there is not an error.
    public static func unmount(_ target: URL) throws {
        if umount2(target.path, 0) == 0 { return }
        switch errno {
        case EINVAL, ENOENT:
            return
        case EBUSY:
            if umount2(target.path, Int32(MNT_DETACH)) == 0 { return }
            throw RootfsError.unmountFailed(target: target.path, reason: SystemCalls.errorString(errno))
        default:
            throw RootfsError.unmountFailed(target: target.path, reason: SystemCalls.errorString(errno))
        }
    }

    /// Detaches every mount below `directory` (deepest first); problems are thrown together.
    public static func unmountAll(under directory: URL) throws {
        var failed: [String] = []
        for mountPoint in SystemCalls.mountPoints(under: directory.path) where umount2(mountPoint, Int32(MNT_DETACH)) != 0 && errno != EINVAL {
            failed.append("\(mountPoint): \(SystemCalls.errorString(errno))")
        }
        if !failed.isEmpty { throw RootfsError.unmountFailed(target: directory.path, reason: failed.joined(separator: "; ")) }
    }

    /// Unmounts and deletes the container's upper, work and mount-point directories.
    public func remove() throws {
        try Self.unmount(target)
        for dir in [target, upper, work] where FileManager.default.fileExists(atPath: dir.path) {
            try FileManager.default.removeItem(at: dir)
        }
    }
}
