#if canImport(Glibc)
    import Glibc
#endif

/// An architecture a seccomp filter covers: the native one of a node and the compat ones its
/// kernel also runs (a 32-bit binary on a 64-bit node enters the kernel through another table).
public enum SeccompArchitecture: String, Sendable, CaseIterable, Codable {
    case x86_64, x86, x32, aarch64, arm

    /// The runtime-spec name (`SCMP_ARCH_X86_64`).
    public var specName: String {
        switch self {
        case .x86_64: return "SCMP_ARCH_X86_64"
        case .x86: return "SCMP_ARCH_X86"
        case .x32: return "SCMP_ARCH_X32"
        case .aarch64: return "SCMP_ARCH_AARCH64"
        case .arm: return "SCMP_ARCH_ARM"
        }
    }

    /// Parses a runtime-spec name as Docker profiles write them.
    public init?(specName: String) {
        guard let match = Self.allCases.first(where: { $0.specName == specName }) else { return nil }
        self = match
    }

    /// The architectures a filter for a node of this one must cover, native first: x86_64 runs
    /// x86 binaries, and x32 ones where the kernel has the x32 ABI enabled (Debian's kernels ship
    /// it disabled, and every architecture the filter covers costs runc ~5 ms to compile at each
    /// start); aarch64 runs arm ones.
    public var family: [SeccompArchitecture] {
        switch self {
        case .x86_64: return Self.kernelRunsX32 ? [.x86_64, .x86, .x32] : [.x86_64, .x86]
        case .x86, .x32: return [.x86_64, .x86, .x32]
        case .aarch64, .arm: return self == .aarch64 ? [.aarch64, .arm] : [.arm]
        }
    }

    /// Whether this kernel runs x32 system calls: asked once with an x32 `getpid`, which a
    /// kernel without the ABI (or with it disabled, `syscall.x32=n`) answers ENOSYS. Without it an
    /// x32 program cannot run at all, so the filter need not cover x32.
    public static let kernelRunsX32: Bool = {
        #if arch(x86_64)
            // glibc's syscall(2) is variadic, which Swift cannot call; on x86_64 it is an assembly
            // stub that only moves registers, so a fixed two-argument signature reaches it as is.
            typealias Syscall = @convention(c) (Int, Int) -> Int
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall") else { return true }
            let call = unsafeBitCast(symbol, to: Syscall.self)
            let x32SyscallBit = 0x4000_0000, getpid = 39
            return call(x32SyscallBit | getpid, 0) != -1 || errno != ENOSYS
        #else
            return false
        #endif
    }()

    /// The architecture this binary was built for.
    public static var native: SeccompArchitecture {
        #if arch(x86_64)
            return .x86_64
        #elseif arch(arm64)
            return .aarch64
        #elseif arch(arm)
            return .arm
        #elseif arch(i386)
            return .x86
        #else
            return .x86_64
        #endif
    }
}
