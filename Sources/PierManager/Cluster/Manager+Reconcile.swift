import Foundation
import PierCluster

extension Manager {
    /// One pass: decide from a snapshot of the state, write the decisions in one transaction,
    /// apply them. Runs without a suspension point, so nothing changes the state meanwhile.
    func reconcilePass() throws {
        let now = Date()
        if !dirty, nextPass.map({ $0 > now }) ?? true { return }
        dirty = false
        let snapshot = ClusterSnapshot(
            nodes: Array(nodes.values), services: Array(services.values),
            // The tasks of a set-aside service stay as they are: assigned, never replaced.
            tasks: setAsideServices.isEmpty ? Array(tasks.values) : tasks.values.filter { setAsideServices[$0.serviceID] == nil }, now: now)
        let plan = reconciler.reconcile(snapshot)
        nextPass = plan.nextWakeup
        guard !plan.isEmpty else { return }
        var changes = ChangeSet()
        var touchedNodes: [String: Node] = [:]
        // Last action per record wins; kept by id so a 30,000-task plan stays linear.
        var serviceChanges: [String: Service] = [:]
        var taskOrder: [String] = []
        var taskChanges: [String: ClusterTask] = [:]
        for action in plan.actions {
            switch action {
            case .markNodeDown(let id, let message):
                guard var node = touchedNodes[id] ?? nodes[id] else { continue }
                node.state = .down
                node.message = message
                node.updatedAt = now
                touchedNodes[id] = node
                logger.warning("node \(id) (\(node.description.hostname)) is down: \(message)")
            case .updateService(let s):
                serviceChanges[s.id] = s
            case .create(let t), .update(let t):
                if taskChanges.updateValue(t, forKey: t.id) == nil { taskOrder.append(t.id) }
            case .delete(let id):
                changes.deletedTasks.append(id)
            }
        }
        changes.services = Array(serviceChanges.values)
        changes.tasks = taskOrder.compactMap { taskChanges[$0] }
        changes.nodes = Array(touchedNodes.values)
        try commit(changes)
        // Our own writes need no second pass unless the plan asked for one.
        dirty = false
    }
}
