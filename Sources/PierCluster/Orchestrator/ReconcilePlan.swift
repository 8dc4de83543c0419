import Foundation

/// One change to the store. Apply every action of a plan in one transaction, in order.
///
/// Task and service actions carry whole records computed from the snapshot: the manager must
/// take the snapshot and apply the plan without recording agent reports in between (one actor,
/// no suspension), or it may overwrite a status that arrived meanwhile.
public enum ReconcileAction: Sendable, Equatable {
    /// Set the node's state to `down` with this message; its tasks are handled by the same plan.
    case markNodeDown(nodeID: String, message: String)
    /// Store the service record as given (update status, a rollback's swapped specs and version).
    case updateService(Service)
    /// Insert a new task (`pending`, or already `assigned` with its node).
    case create(ClusterTask)
    /// Replace the stored task of the same id (new status, desired state or node).
    case update(ClusterTask)
    /// Delete a task: pruned history, or a removed service's ended task.
    case delete(taskID: String)
}

/// What one reconciler pass decided.
public struct ReconcilePlan: Sendable, Equatable {
    /// Node changes first, then services, creations, updates, deletions.
    public var actions: [ReconcileAction]
    /// When to run the next pass even if nothing in the store changes: the earliest restart
    /// delay, heartbeat deadline, update delay or monitor window end. nil: only on changes.
    public var nextWakeup: Date?

    public init(actions: [ReconcileAction] = [], nextWakeup: Date? = nil) {
        self.actions = actions; self.nextWakeup = nextWakeup
    }

    public var isEmpty: Bool { actions.isEmpty }

    /// Tasks the plan creates.
    public var created: [ClusterTask] {
        actions.compactMap { if case .create(let t) = $0 { t } else { nil } }
    }
    /// Tasks the plan changes.
    public var updated: [ClusterTask] {
        actions.compactMap { if case .update(let t) = $0 { t } else { nil } }
    }
    /// Ids of the tasks the plan deletes.
    public var deleted: [String] {
        actions.compactMap { if case .delete(let id) = $0 { id } else { nil } }
    }
    /// Services the plan rewrites.
    public var services: [Service] {
        actions.compactMap { if case .updateService(let s) = $0 { s } else { nil } }
    }
    /// Nodes the plan marks down.
    public var downNodes: [String] {
        actions.compactMap { if case .markNodeDown(let id, _) = $0 { id } else { nil } }
    }
}
