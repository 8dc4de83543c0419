import PierSpec
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// User namespaces Pier holds open, one per id range, to idmap mounts with.
///
/// An idmapped mount needs a user namespace with the mapping: one is made once per range (a
/// helper `unshare --user sleep` whose maps Pier writes, then killed at once) and kept by its
/// file descriptor for the life of the process. No helper outlives the call that made it.
public final class UserNamespaces: Sendable {
    private let descriptors = Mutex<[IDMapping: Int32]>([:])

    public init() {}

    deinit {
        descriptors.withLock { for fd in $0.values { close(fd) } }
    }

    /// The namespace's descriptor for `mapping`, made on first use.
    public func descriptor(for mapping: IDMapping) throws -> Int32 {
        if let fd = descriptors.withLock({ $0[mapping] }) { return fd }
        let fd = try Self.create(mapping)
        return descriptors.withLock { held in
            if let existing = held[mapping] {
                close(fd)
                return existing
            }
            held[mapping] = fd
            return fd
        }
    }

    static let unshare = ["/usr/bin/unshare", "/bin/unshare"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let sleep = ["/usr/bin/sleep", "/bin/sleep"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A new user namespace with `mapping`, by its descriptor.
    static func create(_ mapping: IDMapping) throws -> Int32 {
        guard let unshare, let sleep else { throw UserNamespaceError.helperFailed("util-linux's unshare and coreutils' sleep are needed") }
        let pid = try Subprocess.spawn(unshare, ["--user", "--", sleep, "60"])
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/user")) ?? ""
        let deadline = ContinuousClock.now + .seconds(5)
        // Its namespace is new once unshare has called unshare(2); then its maps can be written.
        while (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/user")) ?? own == own {
            guard ContinuousClock.now < deadline else { throw UserNamespaceError.helperFailed("the helper did not enter a new user namespace") }
            usleep(200)
        }
        for (file, line) in [("uid_map", mapping.uidMapLine), ("gid_map", mapping.gidMapLine)] {
            let fd = open("/proc/\(pid)/\(file)", O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw UserNamespaceError.helperFailed("open \(file): \(SystemCalls.errorString(errno))") }
            defer { close(fd) }
            let written = line.withCString { write(fd, $0, strlen($0)) }
            guard written == line.utf8.count else {
                throw UserNamespaceError.helperFailed("write \(file) \(line.dropLast()): \(SystemCalls.errorString(errno))")
            }
        }
        let fd = open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw UserNamespaceError.helperFailed("open ns/user: \(SystemCalls.errorString(errno))") }
        return fd
    }

    private static let emptyPath: Int32 = 0x1000  // AT_EMPTY_PATH

    /// Mounts `source` at `target` (a directory made here when missing) with ownership seen
    /// through `userns`: a host file of uid 0 appears as the mapping's first uid.
    public static func mountIDMapped(source: String, target: String, userns: Int32, readOnly: Bool) throws {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) {
            var sourceIsDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: source, isDirectory: &sourceIsDirectory)
            if sourceIsDirectory.boolValue {
                try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            } else {
                try FileManager.default.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: target, contents: nil) else {
                    throw UserNamespaceError.idmapFailed(path: source, reason: "cannot create \(target)")
                }
            }
        }
        let tree = open_tree(AT_FDCWD, source, UInt32(OPEN_TREE_CLONE) | UInt32(O_CLOEXEC))
        guard tree >= 0 else { throw UserNamespaceError.idmapFailed(path: source, reason: "open_tree: \(SystemCalls.errorString(errno))") }
        defer { close(tree) }
        var attr = mount_attr()
        attr.attr_set = UInt64(MOUNT_ATTR_IDMAP) | (readOnly ? UInt64(MOUNT_ATTR_RDONLY) : 0)
        attr.userns_fd = UInt64(userns)
        guard mount_setattr(tree, "", UInt32(emptyPath), &attr, MemoryLayout<mount_attr>.size) == 0 else {
            let code = errno
            throw UserNamespaceError.idmapFailed(
                path: source,
                reason: code == EINVAL
                    ? "its filesystem cannot be idmapped (mount_setattr: \(SystemCalls.errorString(code))); give --userns host"
                    : "mount_setattr: \(SystemCalls.errorString(code))")
        }
        guard move_mount(tree, "", AT_FDCWD, target, UInt32(MOVE_MOUNT_F_EMPTY_PATH)) == 0 else {
            throw UserNamespaceError.idmapFailed(path: source, reason: "move_mount to \(target): \(SystemCalls.errorString(errno))")
        }
    }

    /// Whether this kernel makes idmapped mounts of `directory`'s filesystem and stacks overlay
    /// on them: Linux ≥ 5.19 and a real try (an idmapped lower, an overlay on it, a file's owner
    /// seen through both). Leaves nothing mounted or behind.
    public static func probeIDMappedOverlay(in directory: URL) -> Bool {
        guard KernelVersion.running >= KernelVersion(5, 19) else { return false }
        let root = directory.appendingPathComponent("idmap-probe-\(getpid())")
        let fm = FileManager.default
        defer {
            for mountPoint in SystemCalls.mountPoints(under: root.path) { umount2(mountPoint, Int32(MNT_DETACH)) }
            try? fm.removeItem(at: root)
        }
        do {
            let lower = root.appendingPathComponent("lower"), mapped = root.appendingPathComponent("mapped")
            let upper = root.appendingPathComponent("upper"), work = root.appendingPathComponent("work")
            let merged = root.appendingPathComponent("merged")
            for dir in [lower, upper, work, merged] { try fm.createDirectory(at: dir, withIntermediateDirectories: true) }
            guard fm.createFile(atPath: lower.appendingPathComponent("f").path, contents: Data()) else { return false }
            let mapping = IDMapping(uidStart: 1_000_000_000, gidStart: 1_000_000_000, count: 65536)
            let namespaces = UserNamespaces()  // closed when the probe returns
            try mountIDMapped(source: lower.path, target: mapped.path, userns: try namespaces.descriptor(for: mapping), readOnly: true)
            let options = "lowerdir=\(mapped.path),upperdir=\(upper.path),workdir=\(work.path)"
            guard Glibc.mount("overlay", merged.path, "overlay", 0, options) == 0 else { return false }
            var st = stat()
            return stat(merged.appendingPathComponent("f").path, &st) == 0 && st.st_uid == mapping.uidStart
        } catch {
            return false
        }
    }
}
