import PierSpec

/// The filter a default container gets: Pier's allow-list written the other way round.
///
/// runc 1.1 has libseccomp compile the filter in `runc init` at every start, and the work grows
/// with the number of calls times the architectures covered (super-linearly: an allow-list of
/// ~280 calls for x86_64 and x86 cost ~8 ms a start, for x86_64 alone ~4 ms). The inverse — every
/// call allowed but the ones the allow-list leaves out, ~80 on x86_64 — compiles in well under a
/// millisecond, and covering only the architectures the container's programs use halves it again.
/// The two forms refuse the same known calls with the same errno; they differ in what neither
/// names: a call newer than libseccomp's table (it cannot name it) is allowed here, where the
/// allow-list's filter answered ENOSYS.
extension SeccompPolicy {
    /// `filter`, an allow-list (default errno, allow rules), as a deny-list over `architectures`:
    /// default allow; every call of those architectures' tables the list does not allow fails with
    /// the list's default errno; a call the list allows only under conditions fails under
    /// `refusals[call]`, conditions whose OR is true exactly where the list's OR was false; rules
    /// with other actions (clone3's ENOSYS) stay. nil when `filter` is not such a list or a
    /// conditional call has no refusal form.
    static func denyList(
        from filter: RuntimeSpec.Seccomp, architectures: [SeccompArchitecture],
        refusals: [String: [RuntimeSpec.SyscallArg]]
    ) -> RuntimeSpec.Seccomp? {
        guard filter.defaultAction == SeccompAction.errno(0).specName else { return nil }
        let errno = filter.defaultErrnoRet ?? SeccompAction.eperm
        let allow = SeccompAction.allow.specName
        let rules = filter.syscalls ?? []
        let allowed = Set(rules.filter { $0.action == allow && $0.args == nil }.flatMap(\.names))
        var conditional: [String] = []
        for rule in rules where rule.action == allow && rule.args != nil {
            for name in rule.names where !allowed.contains(name) && !conditional.contains(name) { conditional.append(name) }
        }
        let kept = rules.filter { $0.action != allow }
        let named = Set(kept.flatMap(\.names))
        guard conditional.allSatisfy({ refusals[$0] != nil }) else { return nil }
        // On x86, libseccomp also applies a rule for a socket or IPC call to the multiplexer
        // (`socketcall`, `ipc`), replacing the rule's first argument condition with the call's
        // number there: a conditional refusal would refuse every multiplexed call of that kind.
        if architectures.contains(.x86) && conditional.contains(where: Self.x86Multiplexed.contains) { return nil }
        let known = architectures.reduce(into: Set<String>()) { $0.formUnion(SyscallTable.names($1)) }
        let denied = known.subtracting(allowed).subtracting(conditional).subtracting(named).sorted()
        let errnoName = SeccompAction.errno(errno).specName
        var syscalls: [RuntimeSpec.Syscall] = []
        if !denied.isEmpty { syscalls.append(.init(names: denied, action: errnoName, errnoRet: errno)) }
        for name in conditional where !named.contains(name) {
            syscalls.append(.init(names: [name], action: errnoName, errnoRet: errno, args: refusals[name]))
        }
        syscalls += kept
        return RuntimeSpec.Seccomp(
            defaultAction: allow, architectures: architectures.map(\.specName), syscalls: syscalls)
    }

    /// The calls 32-bit x86 programs may also make through `socketcall` or `ipc`.
    static let x86Multiplexed: Set<String> = [
        "socket", "bind", "connect", "listen", "accept", "accept4", "getsockname", "getpeername", "socketpair", "send",
        "recv", "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt", "sendmsg", "recvmsg", "recvmmsg", "sendmmsg",
        "semop", "semget", "semctl", "semtimedop", "msgsnd", "msgrcv", "msgget", "msgctl", "shmat", "shmdt", "shmget", "shmctl",
    ]
}

extension SeccompArchitecture {
    /// The architecture of an OCI image-spec `architecture` (`amd64`, `386`, `arm64`, `arm`).
    init?(ociArchitecture: String) {
        switch ociArchitecture {
        case "amd64": self = .x86_64
        case "386": self = .x86
        case "arm64": self = .aarch64
        case "arm": self = .arm
        default: return nil
        }
    }

    /// What a filter for a container of an `image`-architecture image on a node of this one
    /// covers: this architecture (runc's own code runs it until the container's program starts),
    /// and the image's when it is one of this node's compat architectures. The other compat
    /// architectures are left out, so a 32-bit call from a 64-bit image kills the thread (the
    /// action for an architecture the filter does not cover) instead of reaching the kernel.
    func covering(image: String?) -> [SeccompArchitecture] {
        guard let image, let other = SeccompArchitecture(ociArchitecture: image), other != self,
            family.contains(other)
        else { return [self] }
        return [self, other]
    }
}
