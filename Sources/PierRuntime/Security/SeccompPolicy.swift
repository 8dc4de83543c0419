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

    /// The filter a container with `capabilities` of an `imageArchitecture` image gets by default
    /// on this node: ``pierDefault`` for this node's architecture (and the image's, when it is a
    /// compat one), as a deny-list (``denyList(from:architectures:refusals:)``) where it can be
    /// written as one, else as the allow-list; computed once per capability set and architectures.
    public static func resolvedDefault(capabilities: [String], imageArchitecture: String? = nil) -> RuntimeSpec.Seccomp {
        let covered = SeccompArchitecture.native.covering(image: imageArchitecture)
        let key = covered.map(\.rawValue).joined(separator: ",") + " " + capabilities.sorted().joined(separator: ",")
        if let hit = cache.withLock({ $0[key] }) { return hit }
        var policy = pierDefault
        policy.architectures = covered
        let allowList = policy.resolve(capabilities: capabilities)
        let resolved = denyList(from: allowList, architectures: covered, refusals: refusals) ?? allowList
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
