import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The containers' cgroups below `/pier`: where runc puts them (`linux.cgroupsPath`), their
/// resource use, and removal of what a crash left behind. Works with cgroup v1 (one hierarchy
/// per controller) and v2 (the unified hierarchy, when `cgroup.controllers` exists at the root).
public struct Cgroups: Sendable {
    /// v1: one hierarchy per controller; v2: the unified hierarchy.
    public enum Version: Sendable, Equatable { case v1, v2 }

    /// Where cgroupfs is mounted, usually /sys/fs/cgroup.
    public var root: URL
    /// Parent of every container's cgroup, e.g. `/pier`.
    public var parent: String
    public var version: Version

    public init(root: URL = URL(fileURLWithPath: "/sys/fs/cgroup"), parent: String = "/pier") {
        self.root = root
        self.parent = parent
        self.version = Self.detectVersion(root: root)
    }

    /// v2 when the root is the unified hierarchy (it has `cgroup.controllers`).
    public static func detectVersion(root: URL = URL(fileURLWithPath: "/sys/fs/cgroup")) -> Version {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("cgroup.controllers").path) ? .v2 : .v1
    }

    /// The cgroup path runc is given for container `id`: `/pier/<id>`.
    public func path(id: String) -> String { "\(parent)/\(id)" }

    /// The container's directory for `controller` (ignored on v2).
    public func directory(controller: String, id: String) -> URL {
        let relative = String(path(id: id).dropFirst())
        switch version {
        case .v1: return root.appendingPathComponent(controller).appendingPathComponent(relative)
        case .v2: return root.appendingPathComponent(relative)
        }
    }

    /// Whether the kernel accounts swap, so that a swap limit can be set.
    public var swapAccounting: Bool {
        switch version {
        case .v1: return FileManager.default.fileExists(atPath: root.appendingPathComponent("memory/memory.memsw.limit_in_bytes").path)
        case .v2: return true  // runc ignores memory.swap.max when swap is not compiled in
        }
    }

    /// Whether container `id` has a cgroup (it runs, or a crash left it).
    public func exists(id: String) -> Bool {
        FileManager.default.fileExists(atPath: directory(controller: "pids", id: id).path)
    }

    /// CPU time, memory use and limit, and process count of container `id`.
    public func stats(id: String) throws -> ResourceUsage {
        switch version {
        case .v1:
            let memory = directory(controller: "memory", id: id)
            guard FileManager.default.fileExists(atPath: memory.path) else {
                throw CgroupError.notFound(id: id, path: memory.path)
            }
            let cpu = try readNumber(directory(controller: "cpuacct", id: id).appendingPathComponent("cpuacct.usage"))
            let usage = try readNumber(memory.appendingPathComponent("memory.usage_in_bytes"))
            let stat = try readKeyed(memory.appendingPathComponent("memory.stat"))
            let inactive = stat["total_inactive_file"] ?? stat["inactive_file"] ?? 0
            let limit = try readNumber(memory.appendingPathComponent("memory.limit_in_bytes"))
            let pids = try readNumber(directory(controller: "pids", id: id).appendingPathComponent("pids.current"))
            return ResourceUsage(
                cpuNanoseconds: cpu, memoryBytes: usage > inactive ? usage - inactive : usage,
                memoryLimitBytes: limit >= 1 << 62 ? nil : limit, pids: pids)
        case .v2:
            let dir = directory(controller: "", id: id)
            guard FileManager.default.fileExists(atPath: dir.path) else { throw CgroupError.notFound(id: id, path: dir.path) }
            let cpu = (try readKeyed(dir.appendingPathComponent("cpu.stat"))["usage_usec"] ?? 0) * 1000
            let usage = try readNumber(dir.appendingPathComponent("memory.current"))
            let inactive = try readKeyed(dir.appendingPathComponent("memory.stat"))["inactive_file"] ?? 0
            let maxText = try readText(dir.appendingPathComponent("memory.max"))
            let pids = try readNumber(dir.appendingPathComponent("pids.current"))
            return ResourceUsage(
                cpuNanoseconds: cpu, memoryBytes: usage > inactive ? usage - inactive : usage,
                memoryLimitBytes: UInt64(maxText), pids: pids)
        }
    }

    /// Removes container `id`'s cgroup directories (children first) in every hierarchy.
    /// Returns what could not be removed (a cgroup with live processes cannot be).
    @discardableResult
    public func remove(id: String) -> [String] {
        var problems: [String] = []
        let relative = String(path(id: id).dropFirst())
        var dirs: [URL] = []
        switch version {
        case .v1:
            let hierarchies = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
            dirs = hierarchies.map { root.appendingPathComponent($0).appendingPathComponent(relative) }
        case .v2:
            dirs = [root.appendingPathComponent(relative)]
        }
        for dir in dirs {
            guard FileManager.default.fileExists(atPath: dir.path) else { continue }
            for child in Self.subdirectories(dir).reversed() + [dir] where rmdir(child.path) != 0 && errno != ENOENT {
                problems.append("cannot remove cgroup \(child.path): \(SystemCalls.errorString(errno))")
            }
        }
        return problems
    }

    /// Every cgroup below `dir`, parents before children.
    private static func subdirectories(_ dir: URL) -> [URL] {
        var out: [URL] = []
        let entries = (try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: [.isDirectoryKey])) ?? []
        for entry in entries where (try? entry.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
            out.append(entry)
            out += subdirectories(entry)
        }
        return out
    }

    private func readText(_ url: URL) throws -> String {
        guard let text = SystemCalls.readText(url.path) else {
            throw CgroupError.unreadable(path: url.path, reason: SystemCalls.errorString(errno))
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func readNumber(_ url: URL) throws -> UInt64 {
        let text = try readText(url)
        guard let value = UInt64(text) else { throw CgroupError.unreadable(path: url.path, reason: "not a number: \(text.prefix(40))") }
        return value
    }

    private func readKeyed(_ url: URL) throws -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in try readText(url).split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }
}
