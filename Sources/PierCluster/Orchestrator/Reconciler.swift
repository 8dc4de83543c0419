import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Decides how the cluster converges on its services, as Swarm's orchestrators do: replicas and
/// global tasks, restarts by policy, node failure and drain, rolling updates and rollbacks.
///
/// A pure function of a snapshot: no I/O, no clock but `snapshot.now`, and no state of its own,
/// so a restarted manager continues from what it stored. Run a pass after every store change
/// and at the plan's `nextWakeup`.
public struct Reconciler: Sendable {
    /// Timings and limits of the reconciler.
    public struct Configuration: Sendable, Equatable {
        /// A ready node whose last heartbeat is this old is marked down (agents beat every 0.5 s,
        /// so 1.5 s detects a lost node within 2 s).
        public var heartbeatGraceSeconds: Double
        /// Ended tasks kept per slot (or per node for global services); older ones are deleted.
        public var taskHistoryLimit: Int
        /// How long an update that changes the image waits for the nodes of the tasks it replaces
        /// to hold the new image (download-then-switch) before it replaces them anyway.
        public var stageTimeoutSeconds: Double

        public init(heartbeatGraceSeconds: Double = 1.5, taskHistoryLimit: Int = 5, stageTimeoutSeconds: Double = 600) {
            self.heartbeatGraceSeconds = heartbeatGraceSeconds; self.taskHistoryLimit = taskHistoryLimit
            self.stageTimeoutSeconds = stageTimeoutSeconds
        }
    }

    public var configuration: Configuration
    /// Makes ids for new tasks.
    public var makeID: @Sendable () -> String

    public init(configuration: Configuration = Configuration(), makeID: @escaping @Sendable () -> String = Reconciler.randomID) {
        self.configuration = configuration; self.makeID = makeID
    }

    /// A random id of 25 lowercase alphanumerics, like Swarm's.
    @Sendable public static func randomID() -> String {
        let alphabet: StaticString = "abcdefghijklmnopqrstuvwxyz0123456789"
        let bound: UInt64 = 4_738_381_338_321_616_896  // 36^12: a 64-bit draw below it gives 12 digits
        // Three draws from one getentropy call (a pass may make 30,000 ids: one syscall each, not
        // three). A draw below 3 * 36^12 is uniform modulo 36^12; the rare one above is redrawn.
        var draws: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let filled = withUnsafeMutableBytes(of: &draws) { getentropy($0.baseAddress, $0.count) } == 0
        var generator = SystemRandomNumberGenerator()
        func digits(_ draw: UInt64) -> UInt64 {
            filled && draw < 3 * bound ? draw % bound : generator.next(upperBound: bound)
        }
        let values = [digits(draws.0), digits(draws.1), digits(draws.2)]
        return String(unsafeUninitializedCapacity: 25) { buffer in
            alphabet.withUTF8Buffer { letters in
                var n = 0
                for var value in values {
                    for _ in 0..<12 where n < 25 {
                        buffer[n] = letters[Int(value % 36)]
                        value /= 36
                        n += 1
                    }
                }
                return n
            }
        }
    }

    /// One pass: what to change so the cluster moves towards its services' desired state.
    public func reconcile(_ snapshot: ClusterSnapshot) -> ReconcilePlan {
        var pass = ReconcilePass(snapshot: snapshot, configuration: configuration, makeID: makeID)
        pass.run()
        return pass.plan()
    }
}
