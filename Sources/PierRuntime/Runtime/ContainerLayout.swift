import Foundation

/// Where one container's files live. The agent picks the directory; everything else is
/// derived from it: the OCI bundle is the directory itself.
///
///     <directory>/config.json   runtime spec        rootfs/  overlay mount point
///     <directory>/upper, work   overlay dirs        etc/     hosts, hostname, resolv.conf
///     <directory>/exit.json     the shim's record   init.pid, runc.log, shim.log
public struct ContainerLayout: Sendable, Equatable {
    public var directory: URL
    /// The container's CRI-format log (rotated as `<log>.1`, `<log>.2`…).
    public var logPath: URL

    public init(directory: URL, logPath: URL? = nil) {
        self.directory = directory
        self.logPath = logPath ?? directory.appendingPathComponent("container.log")
    }

    /// The OCI bundle: the directory itself.
    public var bundle: URL { directory }
    public var rootfs: URL { directory.appendingPathComponent("rootfs") }
    public var upper: URL { directory.appendingPathComponent("upper") }
    public var work: URL { directory.appendingPathComponent("work") }
    /// The overlay's lower directory when the image has no layers.
    public var emptyLower: URL { directory.appendingPathComponent("empty") }
    public var configFile: URL { directory.appendingPathComponent("config.json") }
    public var exitFile: URL { directory.appendingPathComponent("exit.json") }
    public var pidFile: URL { directory.appendingPathComponent("init.pid") }
    public var runcLog: URL { directory.appendingPathComponent("runc.log") }
    public var shimLog: URL { directory.appendingPathComponent("shim.log") }
    public var etcFiles: ContainerEtcFiles { ContainerEtcFiles(directory: directory.appendingPathComponent("etc")) }
    /// Idmapped mounts of the lower layers and volumes of a container in a user namespace.
    public var idmapDirectory: URL { directory.appendingPathComponent("idmap") }

    /// The container's init pid as runc recorded it, if it has.
    public func containerPID() -> Int32? {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return nil }
        return pid
    }
}
