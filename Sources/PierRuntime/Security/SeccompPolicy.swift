import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

import PierSpec

extension SeccompPolicy {
    /// The filter for a container with `capabilities` (the bounding set) on `architecture`:
    /// the rules that apply, each keeping only the calls one of the covered architectures has,
    /// calls with the same action and conditions merged into one entry.
    public func resolve(
        capabilities: some Sequence<String>, architecture: SeccompArchitecture = .native,
        kernel: KernelVersion = KernelVersion.running
    ) -> RuntimeSpec.Seccomp {
        let caps = Set(capabilities)
        let covered = architectures ?? architecture.family
        var order: [Key] = []
        var merged: [Key: [String]] = [:]
        var seen: [Key: Set<String>] = [:]
        for rule in rules where rule.applies(capabilities: caps, architecture: architecture, kernel: kernel) {
            let key = Key(action: rule.action, args: rule.args)
            if merged[key] == nil { order.append(key); merged[key] = []; seen[key] = [] }
            for name in rule.names where SyscallTable.exists(name, on: covered) && seen[key]!.insert(name).inserted {
                merged[key]!.append(name)
            }
        }
        let syscalls = order.compactMap { key -> RuntimeSpec.Syscall? in
            guard let names = merged[key], !names.isEmpty else { return nil }
            return RuntimeSpec.Syscall(
                names: names, action: key.action.specName, errnoRet: key.action.number, args: key.args.isEmpty ? nil : key.args)
        }
        return RuntimeSpec.Seccomp(
            defaultAction: defaultAction.specName, defaultErrnoRet: defaultAction.number,
            architectures: covered.map(\.specName), syscalls: syscalls)
    }

    private struct Key: Hashable {
        var action: SeccompAction
        var args: [RuntimeSpec.SyscallArg]
    }

    private static let cache = Mutex<[String: RuntimeSpec.Seccomp]>([:])

    /// ``pierDefault`` resolved for `capabilities` on this node, computed once per capability set.
    public static func resolvedDefault(capabilities: [String]) -> RuntimeSpec.Seccomp {
        let key = capabilities.sorted().joined(separator: ",")
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let resolved = pierDefault.resolve(capabilities: capabilities)
        cache.withLock { $0[key] = resolved }
        return resolved
    }
}

extension KernelVersion {
    /// The running kernel's release (`uname -r`); 0.0 when it cannot be read.
    public static let running: KernelVersion = {
        var name = utsname()
        guard uname(&name) == 0 else { return KernelVersion(0, 0) }
        let release = withUnsafeBytes(of: &name.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return KernelVersion(parsing: release) ?? KernelVersion(0, 0)
    }()
}
