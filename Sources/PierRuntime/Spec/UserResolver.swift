import PierSpec
import Foundation

/// Resolves `--user` against the container's own /etc/passwd and /etc/group, as runc's
/// libcontainer/user does for Docker: a name must be listed; a number need not be.
public struct UserResolver: Sendable {
    /// The container's root filesystem (mounted).
    public var rootfs: URL

    public init(rootfs: URL) { self.rootfs = rootfs }

    struct PasswdEntry { var name: String; var uid: UInt32; var gid: UInt32; var home: String }
    struct GroupEntry { var name: String; var gid: UInt32; var members: [String] }

    /// Resolves `spec` (nil: root). Throws `ContainerSpecError.unknownUser` for names the
    /// image does not list.
    public func resolve(_ spec: UserSpec?, flag: String = "--user") throws -> ResolvedUser {
        let userArg = spec?.user ?? "0"
        let passwd = readPasswd()
        let numericUID = UInt32(userArg)
        let match = passwd.first { numericUID != nil ? $0.uid == numericUID : $0.name == userArg }
        var user: ResolvedUser
        if let match {
            user = ResolvedUser(uid: match.uid, gid: match.gid, name: match.name, home: match.home)
        } else if let numericUID {
            user = ResolvedUser(uid: numericUID, gid: 0, home: "/")
        } else {
            throw ContainerSpecError.unknownUser(flag: flag, name: userArg, file: "/etc/passwd")
        }
        let groups = readGroup()
        if let groupArg = spec?.group {
            if let gid = UInt32(groupArg) {
                user.gid = gid
            } else if let g = groups.first(where: { $0.name == groupArg }) {
                user.gid = g.gid
            } else {
                throw ContainerSpecError.unknownUser(flag: flag, name: groupArg, file: "/etc/group")
            }
        } else if let name = user.name {
            // Supplementary groups only in the implicit form, as libcontainer does.
            var seen = Set<UInt32>()
            user.additionalGids = groups.filter { $0.members.contains(name) }.map(\.gid).filter { seen.insert($0).inserted }
        }
        return user
    }

    func readPasswd() -> [PasswdEntry] {
        lines(of: "etc/passwd").compactMap { fields in
            guard fields.count >= 6, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else { return nil }
            return PasswdEntry(name: fields[0], uid: uid, gid: gid, home: fields[5])
        }
    }

    func readGroup() -> [GroupEntry] {
        lines(of: "etc/group").compactMap { fields in
            guard fields.count >= 3, let gid = UInt32(fields[2]) else { return nil }
            let members = fields.count > 3 ? fields[3].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } : []
            return GroupEntry(name: fields[0], gid: gid, members: members)
        }
    }

    /// Colon-separated fields of each non-comment line. The file is read through the rootfs
    /// without following an absolute symlink out of it: a symlinked /etc/passwd counts as absent.
    private func lines(of relative: String) -> [[String]] {
        let url = rootfs.appendingPathComponent(relative)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
            attributes[.type] as? FileAttributeType == .typeRegular,
            (attributes[.size] as? NSNumber)?.intValue ?? 0 < 16 << 20,
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#") else { return nil }
            return trimmed.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        }
    }
}
