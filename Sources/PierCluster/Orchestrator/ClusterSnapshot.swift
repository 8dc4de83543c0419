import Foundation

/// Everything the reconciler decides from: the store's nodes, services and tasks, read in one
/// transaction, and the time of the pass.
public struct ClusterSnapshot: Sendable {
    public var nodes: [Node]
    public var services: [Service]
    public var tasks: [ClusterTask]
    /// The pass's clock; the reconciler reads no other.
    public var now: Date

    public init(nodes: [Node], services: [Service], tasks: [ClusterTask], now: Date) {
        self.nodes = nodes; self.services = services; self.tasks = tasks; self.now = now
    }
}
