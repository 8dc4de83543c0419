import PierSpec

extension RuntimeSpec {
    /// runtime-spec `linux.seccomp` (config-linux.md, "Seccomp"), as runc 1.1 reads it.
    public struct Seccomp: Codable, Sendable, Equatable {
        /// `SCMP_ACT_ERRNO`, `SCMP_ACT_ALLOW`, …: what a call no rule matches gets.
        public var defaultAction: String
        /// The errno of a default `SCMP_ACT_ERRNO` (EPERM when absent).
        public var defaultErrnoRet: UInt32?
        /// `SCMP_ARCH_X86_64`, …: the native architecture first, then compat ones.
        public var architectures: [String]?
        public var syscalls: [Syscall]?

        public init(defaultAction: String, defaultErrnoRet: UInt32? = nil, architectures: [String]? = nil, syscalls: [Syscall]? = nil) {
            self.defaultAction = defaultAction; self.defaultErrnoRet = defaultErrnoRet
            self.architectures = architectures; self.syscalls = syscalls
        }
    }

    /// runtime-spec `linux.seccomp.syscalls[]`: calls that get `action` when every argument
    /// condition holds (runc ORs conditions that test the same argument).
    public struct Syscall: Codable, Sendable, Equatable {
        public var names: [String]
        public var action: String
        public var errnoRet: UInt32?
        public var args: [SyscallArg]?

        public init(names: [String], action: String, errnoRet: UInt32? = nil, args: [SyscallArg]? = nil) {
            self.names = names; self.action = action; self.errnoRet = errnoRet; self.args = args
        }
    }

    /// runtime-spec `linux.seccomp.syscalls[].args[]`: the model's ``SeccompArgument``.
    public typealias SyscallArg = SeccompArgument
}
