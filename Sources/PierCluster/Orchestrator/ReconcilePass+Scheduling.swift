import Foundation

/// Placing pending tasks, and cleaning up what ended.
extension ReconcilePass {
    /// Wanted-no-more tasks that never reached a node end here; no agent will report them.
    mutating func shutDownUnassigned() {
        for i in facts.indices where facts[i].desiredState > .running && facts[i].state < .assigned {
            setStatus(i, .shutdown, "removed before it was assigned")
        }
    }

    /// Pending tasks in (service id, slot, node id, task id) order, so that placements do not
    /// depend on the order the store listed tasks in.
    func pendingTasks() -> [Int] {
        // Tasks of removed services were shut down by now: every pending task has a service.
        var pending = facts.indices.filter { facts[$0].desiredState == .running && facts[$0].state < .assigned && facts[$0].service >= 0 }
        pending.sort { a, b in
            let fa = facts[a], fb = facts[b]
            if fa.service != fb.service { return fa.service < fb.service }
            if (fa.slot ?? 0) != (fb.slot ?? 0) { return (fa.slot ?? 0) < (fb.slot ?? 0) }
            if fa.node != fb.node {
                // Node references below nodes.count are in id order; stray ones compare by id.
                if fa.node < nodes.count && fb.node < nodes.count { return fa.node < fb.node }
                let na = nodeName(fa.node) ?? "", nb = nodeName(fb.node) ?? ""
                if na != nb { return na < nb }
            }
            return taskID(a) < taskID(b)
        }
        return pending
    }

    mutating func schedulePending() {
        let pending = pendingTasks()
        guard !pending.isEmpty else { return }
        var scheduler = Scheduler(sortedNodes: nodes)
        occupyNodes(&scheduler)
        let requests = pending.map { i in
            PlacementRequest(serviceID: services[facts[i].service].id, version: facts[i].version, pinned: nodeName(facts[i].node))
        }
        let outcomes = scheduler.schedule(requests) { task(pending[$0]).template }
        let now = self.now
        for (i, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .assigned(let nodeID):
                modify(i) {
                    $0.nodeID = nodeID
                    $0.transition(to: TaskStatus(state: .assigned, timestamp: now, message: "scheduler assigned task to node \(nodeID)"))
                }
                facts[i].node = nodeIndex[nodeID] ?? -1
            case .pending(let reason):
                if facts[i].state != .pending || statusMessage(i) != reason {
                    setStatus(i, .pending, reason)
                }
            }
        }
    }

    /// Counts every task that holds a node (`Scheduler.occupiesNode`) against it. The reservations
    /// and ports of a service version are read from its first task: its tasks share the template.
    func occupyNodes(_ scheduler: inout Scheduler) {
        struct Held { var reservations: Resources; var ports: [PortClaim] }
        struct Version: Hashable { var service: Int; var version: Int }
        let current: [Held] = services.map { Held(reservations: $0.spec.task.reservations, ports: $0.spec.task.portClaims) }
        var older: [Version: Held] = [:]
        for i in facts.indices {
            let f = facts[i]
            guard f.node >= 0, f.node < nodes.count, f.desiredState <= .running, f.state >= .assigned, !f.state.isTerminal else { continue }
            let held: Held
            if f.service >= 0, f.version == services[f.service].version {
                held = current[f.service]
            } else if f.service >= 0, let known = older[Version(service: f.service, version: f.version)] {
                held = known
            } else {
                let template = task(i).template
                held = Held(reservations: template.reservations, ports: template.portClaims)
                if f.service >= 0 { older[Version(service: f.service, version: f.version)] = held }
            }
            let serviceID = f.service >= 0 ? services[f.service].id : task(i).serviceID
            scheduler.occupy(nodeIndex: f.node, serviceID: serviceID, reservations: held.reservations, ports: held.ports)
        }
    }

    func statusMessage(_ i: Int) -> String {
        i >= stored.count ? created[i - stored.count].status.message : (edited[i]?.status.message ?? stored[i].status.message)
    }

    /// Deletes ended tasks beyond the history limit of each slot, and ended tasks of removed services.
    mutating func pruneHistory() {
        for s in services.indices {
            var limit = configuration.taskHistoryLimit
            if let max = services[s].spec.task.restartPolicy.maxAttempts, max > 0 { limit = Swift.max(limit, max) }
            // No slot can hold more ended tasks than the service: most passes stop here.
            let ended = tasksByService[s].reduce(0) { n, i in facts[i].desiredState > .running && facts[i].state.isTerminal ? n + 1 : n }
            guard ended > limit else { continue }
            for group in slots(of: s) {
                let ended = group.members
                    .filter { facts[$0].desiredState > .running && facts[$0].state.isTerminal }
                    .map { (i: $0, timestamp: facts[$0].timestamp, id: taskID($0)) }
                guard ended.count > limit else { continue }
                let newestFirst = ended.sorted { ($0.timestamp, $0.id) > ($1.timestamp, $1.id) }
                for old in newestFirst.dropFirst(limit) { facts[old.i].deleted = true }
            }
        }
        for i in strayTasks where facts[i].state.isTerminal && facts[i].desiredState != .running {
            facts[i].deleted = true
        }
    }
}
