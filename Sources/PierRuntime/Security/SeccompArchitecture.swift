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
    /// x86 and x32 binaries, aarch64 runs arm ones.
    public var family: [SeccompArchitecture] {
        switch self {
        case .x86_64, .x86, .x32: return [.x86_64, .x86, .x32]
        case .aarch64, .arm: return self == .aarch64 ? [.aarch64, .arm] : [.arm]
        }
    }

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
