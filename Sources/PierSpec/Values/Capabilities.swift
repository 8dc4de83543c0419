import Foundation

/// Linux capability names and Docker's default set, with `--cap-add` / `--cap-drop` applied
/// as Docker applies them.
public enum Capabilities {
    /// Every capability Linux defines (up to 6.x), in kernel order.
    public static let all: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Docker's default capabilities (moby `caps.DefaultCapabilities`), in Docker's order.
    public static let dockerDefault: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ]

    /// The capabilities of this process's bounding set, in kernel order: what `--privileged`
    /// can give (a confined agent cannot hand on a capability it lacks; runc would fail the start).
    public static let ownBounding: [String] = {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapBnd:") }),
            let mask = UInt64(line.dropFirst("CapBnd:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return all }
        return all.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }()

    /// `net_admin`, `NET_ADMIN` or `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`.
    public static func normalize(_ name: String, flag: String) throws -> String {
        let upper = name.trimmingCharacters(in: .whitespaces).uppercased()
        if upper == "ALL" { return "ALL" }
        let full = upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
        guard all.contains(full) else {
            throw ContainerSpecError.invalid(
                flag: flag, value: name, expected: "unknown capability; use a name such as NET_ADMIN or CAP_SYS_TIME, or ALL")
        }
        return full
    }

    /// Docker's `TweakCapabilities`: with `ALL` added, every capability minus the dropped
    /// ones; with `ALL` dropped, only the added ones; otherwise the defaults minus drops plus adds.
    /// Inputs are normalized names.
    public static func resolve(add: [String], drop: [String]) -> [String] {
        var result: [String]
        if add.contains("ALL") {
            result = all.filter { !drop.contains($0) }
        } else if drop.contains("ALL") {
            result = []
        } else {
            result = dockerDefault.filter { !drop.contains($0) }
        }
        for cap in add where cap != "ALL" && !result.contains(cap) {
            result.append(cap)
        }
        return result
    }
}
