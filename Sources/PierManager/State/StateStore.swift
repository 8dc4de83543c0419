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
    /// Stored records that could not be decoded: not loaded, left in the store as they are.
    public var setAside: [SetAsideRecord]

    public init(nodes: [Node] = [], services: [Service] = [], tasks: [ClusterTask] = [], meta: [String: String] = [:], setAside: [SetAsideRecord] = []) {
        self.nodes = nodes; self.services = services; self.tasks = tasks; self.meta = meta; self.setAside = setAside
    }
}

/// A stored record the manager does not use: it cannot be decoded, or it fails the checks a
/// create makes. It is listed with the reason and otherwise left alone.
public struct SetAsideRecord: Sendable, Equatable {
    /// `service`, `task` or `node`.
    public var kind: String
    public var id: String
    /// A service's name, a task's service id, when readable.
    public var name: String?
    public var reason: String
    public init(kind: String, id: String, name: String?, reason: String) {
        self.kind = kind; self.id = id; self.name = name; self.reason = reason
    }
}

/// Why a state store cannot be used. The manager then starts degraded: it answers status
/// requests, refuses the rest and changes nothing until `pier manager recover`.
public enum StateStoreError: Error, CustomStringConvertible, Sendable {
    /// SQLite cannot open or read it (not a database, truncated, wrong shape).
    case unreadable(path: String, detail: String)
    /// `PRAGMA quick_check` found damage.
    case damaged(path: String, findings: [String])
    /// It holds no state (new, emptied or truncated) though a backup shows there was some.
    case lost(path: String, backup: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let detail): "\(path) cannot be read as the manager's database (\(detail))"
        case .damaged(let path, let findings):
            "\(path) is damaged (SQLite quick_check: \(findings.prefix(3).joined(separator: "; "))\(findings.count > 3 ? "; …" : ""))"
        case .lost(let path, let backup): "\(path) holds no state (it is new, emptied or truncated) but the backup \(backup) shows there was some"
        }
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
