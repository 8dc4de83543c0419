import Foundation

/// AppArmor on the node: whether the kernel enforces it, and Pier's default profile.
///
/// runc fails a start that names a profile on a kernel without AppArmor, so a profile is only
/// ever set where ``isEnabled``.
public enum AppArmor {
    /// The profile non-privileged containers run under where AppArmor is enabled.
    public static let defaultProfileName = "pier-default"

    /// Whether the kernel has AppArmor and enforces it (`/sys/module/apparmor/parameters/enabled` is `Y`).
    public static func isEnabled(sysfs: String = "/sys/module/apparmor/parameters/enabled") -> Bool {
        guard let text = try? String(contentsOfFile: sysfs, encoding: .utf8) else { return false }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == "Y"
    }

    /// Whether a profile of this name is loaded (`/sys/kernel/security/apparmor/profiles`).
    public static func isLoaded(_ name: String, profiles: String = "/sys/kernel/security/apparmor/profiles") -> Bool {
        guard let text = try? String(contentsOfFile: profiles, encoding: .utf8) else { return false }
        return text.split(separator: "\n").contains { $0 == name || $0.hasPrefix("\(name) (") }
    }

    /// Writes ``defaultProfile`` under `directory` and loads it with `apparmor_parser -Kr`.
    /// Throws when the parser is missing or refuses it.
    public static func loadDefaultProfile(directory: URL) throws {
        let parser = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let parser else { throw AppArmorError.parserMissing }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(defaultProfileName)
        try Data(defaultProfile.utf8).write(to: file, options: .atomic)
        let result = try Subprocess.run(parser, ["-Kr", file.path], timeout: .seconds(30))
        guard result.succeeded else { throw AppArmorError.loadFailed(result.stderrText) }
    }

    /// Pier's profile: everything a container's namespaces and capabilities allow, less
    /// writes to /proc and /sys that change the node, mounting, and ptrace out of the profile.
    public static let defaultProfile = """
        #include <tunables/global>

        profile \(defaultProfileName) flags=(attach_disconnected,mediate_deleted) {
          #include <abstractions/base>

          network,
          capability,
          file,
          umount,
          signal (send,receive) peer=\(defaultProfileName),
          ptrace (trace,read,tracedby,readby) peer=\(defaultProfileName),

          deny mount,
          deny pivot_root,

          deny @{PROC}/* w,
          deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9/]*}/** w,
          deny @{PROC}/sys/[^k]** w,
          deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,
          deny @{PROC}/sysrq-trigger rwklx,
          deny @{PROC}/kcore rwklx,
          deny /sys/[^f]*/** wklx,
          deny /sys/f[^s]*/** wklx,
          deny /sys/fs/[^c]*/** wklx,
          deny /sys/fs/c[^g]*/** wklx,
          deny /sys/fs/cg[^r]*/** wklx,
          deny /sys/firmware/** rwklx,
          deny /sys/kernel/security/** rwklx,
        }

        """
}

public enum AppArmorError: Error, CustomStringConvertible, Sendable {
    case parserMissing
    case loadFailed(String)
    case notEnabled(profile: String)

    public var description: String {
        switch self {
        case .parserMissing:
            return "AppArmor is enabled but apparmor_parser is missing; install Debian's apparmor package to load Pier's profile"
        case .loadFailed(let message):
            return "apparmor_parser refused Pier's profile: \(message)"
        case .notEnabled(let profile):
            return "--security-opt apparmor=\(profile): this node's kernel does not enforce AppArmor"
        }
    }
}
