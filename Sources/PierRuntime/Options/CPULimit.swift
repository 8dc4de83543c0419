import Foundation

/// `--cpus`: a share of the node's CPUs, enforced as a CFS quota per 100 ms period.
public struct CPULimit: Sendable, Hashable {
    /// CFS period in microseconds (Docker's and the kernel's default).
    public static let period: UInt64 = 100_000
    public var cpus: Double

    /// Validates `cpus` against the CPUs this node has (`available`, default: online CPUs).
    public init(cpus: Double, available: Int = ProcessInfo.processInfo.activeProcessorCount) throws {
        guard cpus.isFinite, cpus >= 0.01, cpus <= Double(available) else {
            throw RuntimeOptionError.invalid(
                flag: "--cpus", value: "\(cpus)",
                expected: "range of CPUs is from 0.01 to \(available).00, as this node has \(available) CPUs")
        }
        self.cpus = cpus
    }

    /// CFS quota in microseconds per `period`.
    public var quota: Int64 { Int64((cpus * Double(Self.period)).rounded()) }
}
