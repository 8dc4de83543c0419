import Foundation

/// `--cpus`: a share of the node's CPUs, enforced as a CFS quota per 100 ms period.
public struct CPULimit: Sendable, Hashable {
    /// CFS period in microseconds (Docker's and the kernel's default).
    public static let period: UInt64 = 100_000
    public var cpus: Double

    /// The most CPUs a limit may name; the node that runs the container checks its own count.
    public static let maxCPUs = 1024

    /// Validates `cpus` against `available` CPUs (default: ``maxCPUs``; a node passes its own).
    public init(cpus: Double, available: Int = Self.maxCPUs) throws {
        guard cpus.isFinite, cpus >= 0.01, cpus <= Double(available) else {
            throw ContainerSpecError.invalid(
                flag: "--cpus", value: "\(cpus)",
                expected: available == Self.maxCPUs
                    ? "range of CPUs is from 0.01 to \(available).00"
                    : "range of CPUs is from 0.01 to \(available).00, as this node has \(available) CPUs")
        }
        self.cpus = cpus
    }

    /// CFS quota in microseconds per `period`.
    public var quota: Int64 { Int64((cpus * Double(Self.period)).rounded()) }
}
