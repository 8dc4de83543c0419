import Foundation
import PierCluster

/// Where the manager keeps the cluster's state. The manager holds the state in memory and
/// writes every change through a store first: a `ChangeSet` is committed as one transaction, so
/// a kill at any moment leaves the last complete one. SQLite is the embedded default; a second
/// backend (etcd, for several managers) is a new conforming type.
public protocol StateStore: Sendable {
    /// Everything committed so far.
    func load() async throws -> StoredState
    /// Applies every change of the set, or none of them. Synchronous on purpose: the manager
    /// actor commits without a suspension point, so no agent report can slip in between the
    /// snapshot a reconcile pass decided from and the write of its decisions.
    func commit(_ changes: ChangeSet) throws
}

/// The whole cluster state as stored.
public struct StoredState: Sendable, Equatable {
    public var nodes: [Node]
    public var services: [Service]
    public var tasks: [ClusterTask]
    /// Small named values: the cluster id, join-token secrets, the ids of removed nodes.
    public var meta: [String: String]

    public init(nodes: [Node] = [], services: [Service] = [], tasks: [ClusterTask] = [], meta: [String: String] = [:]) {
        self.nodes = nodes; self.services = services; self.tasks = tasks; self.meta = meta
    }
}

/// Upserts and deletes, applied together.
public struct ChangeSet: Sendable, Equatable {
    public var nodes: [Node] = []
    public var deletedNodes: [String] = []
    public var services: [Service] = []
    public var deletedServices: [String] = []
    public var tasks: [ClusterTask] = []
    public var deletedTasks: [String] = []
    public var meta: [String: String] = [:]
    public var deletedMeta: [String] = []

    public init() {}

    public var isEmpty: Bool {
        nodes.isEmpty && deletedNodes.isEmpty && services.isEmpty && deletedServices.isEmpty
            && tasks.isEmpty && deletedTasks.isEmpty && meta.isEmpty && deletedMeta.isEmpty
    }
}
