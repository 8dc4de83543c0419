import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `/etc/subuid` and `/etc/subgid`: the ranges of host ids a user may map. Pier maps containers
/// to the `pier` entry's range, and appends one after every range already given when there is none.
public enum SubordinateIDs {
    public static let user = "pier"

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var start: UInt32
        public var count: UInt32
    }

    /// `name:start:count` lines; comments, blanks and malformed lines are skipped.
    public static func parse(_ text: String) -> [Entry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count == 3, !fields[0].hasPrefix("#"), let start = UInt32(fields[1]), let count = UInt32(fields[2]) else { return nil }
            return Entry(name: String(fields[0]), start: start, count: count)
        }
    }

    /// The `pier` range of both files, added where absent. Throws when an entry is unusable
    /// (smaller than 65536 ids, starting at 0, or running past 2^32).
    public static func ensure(subuid: String = "/etc/subuid", subgid: String = "/etc/subgid") throws -> IDMapping {
        let uid = try ensure(file: subuid)
        let gid = try ensure(file: subgid)
        let count = min(uid.count, gid.count)
        return IDMapping(uidStart: uid.start, gidStart: gid.start, count: count)
    }

    /// The `pier` range of both files without changing them; nil when either has none.
    /// Throws when an entry is unusable.
    public static func lookup(subuid: String = "/etc/subuid", subgid: String = "/etc/subgid") throws -> IDMapping? {
        let uids = parse((try? String(contentsOfFile: subuid, encoding: .utf8)) ?? "")
        let gids = parse((try? String(contentsOfFile: subgid, encoding: .utf8)) ?? "")
        guard let uid = try usable(uids, file: subuid), let gid = try usable(gids, file: subgid) else { return nil }
        return IDMapping(uidStart: uid.start, gidStart: gid.start, count: min(uid.count, gid.count))
    }

    /// The `pier` entry of `entries`, if it can hold a container's ids.
    static func usable(_ entries: [Entry], file: String) throws -> Entry? {
        guard let mine = entries.first(where: { $0.name == user }) else { return nil }
        guard mine.start > 0, mine.count >= IDMapping.minimumCount, UInt64(mine.start) + UInt64(mine.count) <= UInt64(UInt32.max) else {
            throw UserNamespaceError.unusableRange(
                file: file, entry: "\(mine.name):\(mine.start):\(mine.count)",
                reason: "give pier at least \(IDMapping.minimumCount) ids starting above 0, e.g. pier:100000:65536")
        }
        return mine
    }

    static func ensure(file: String) throws -> Entry {
        let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
        let entries = parse(text)
        if let mine = try usable(entries, file: file) { return mine }
        // After every range in use, aligned to 65536, and at least 100000 (as shadow's useradd starts).
        let end = entries.map { UInt64($0.start) + UInt64($0.count) }.max() ?? 0
        let start = max(UInt64(100_000), (end + 65535) / 65536 * 65536)
        guard start + UInt64(IDMapping.minimumCount) <= UInt64(UInt32.max) else {
            throw UserNamespaceError.unusableRange(file: file, entry: "(none)", reason: "no free range of 65536 ids is left")
        }
        let entry = Entry(name: user, start: UInt32(start), count: IDMapping.minimumCount)
        let line = "\(user):\(entry.start):\(entry.count)\n"
        let updated = text.isEmpty || text.hasSuffix("\n") ? text + line : text + "\n" + line
        do {
            try SystemCalls.writeAtomically(Data(updated.utf8), to: URL(fileURLWithPath: file), durable: true)
            chmod(file, 0o644)  // world-readable as shadow keeps it, whatever the agent's umask
        } catch {
            throw UserNamespaceError.unusableRange(file: file, entry: "(none)", reason: "cannot add \(line.dropLast()): \(error)")
        }
        return entry
    }
}

/// Why a user namespace could not be given.
public enum UserNamespaceError: Error, CustomStringConvertible, Sendable, Equatable {
    case unusableRange(file: String, entry: String, reason: String)
    case helperFailed(String)
    case idmapFailed(path: String, reason: String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .unusableRange(let file, let entry, let reason):
            return "--userns remap: \(file) entry \(entry) is unusable: \(reason)"
        case .helperFailed(let reason):
            return "--userns remap: cannot create the user namespace: \(reason)"
        case .idmapFailed(let path, let reason):
            return "--userns remap: cannot make an idmapped mount of \(path): \(reason)"
        case .unsupported(let reason):
            return "--userns remap: \(reason)"
        }
    }
}
