/// `--ulimit NAME=SOFT[:HARD]`: a resource limit of the container's processes (setrlimit(2)),
/// named as Docker names them; -1 is unlimited.
public struct Ulimit: Sendable, Hashable {
    /// `nofile`, `nproc`, … (Docker's names).
    public var name: String
    public var soft: UInt64
    public var hard: UInt64

    public init(name: String, soft: UInt64, hard: UInt64) { self.name = name; self.soft = soft; self.hard = hard }

    /// Docker's names and the kernel's resources.
    public static let resources: [String: String] = [
        "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
        "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
        "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
        "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
    ]

    public static let unlimited = UInt64.max

    /// The runtime-spec `process.rlimits[].type`.
    public var specType: String { Self.resources[name] ?? name }

    public init(parsing text: String, flag: String = "--ulimit") throws {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let names = Self.resources.keys.sorted().joined(separator: ", ")
        guard parts.count == 2, Self.resources[parts[0]] != nil else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "write NAME=SOFT[:HARD] with NAME one of \(names)")
        }
        let values = parts[1].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard values.count == 1 || values.count == 2 else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "write NAME=SOFT[:HARD], e.g. nofile=1024:2048")
        }
        func number(_ s: String) throws -> UInt64 {
            if s == "-1" { return Self.unlimited }
            guard let n = UInt64(s), n < Self.unlimited else {
                throw ContainerSpecError.invalid(
                    flag: flag, value: text, expected: "\"\(s)\" is not a limit; give a number from 0 to 2^64-2, or -1 for unlimited")
            }
            return n
        }
        let soft = try number(values[0])
        let hard = values.count == 2 ? try number(values[1]) : soft
        guard soft <= hard else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the soft limit \(values[0]) is above the hard limit \(values[1])")
        }
        self.init(name: parts[0], soft: soft, hard: hard)
    }
}
