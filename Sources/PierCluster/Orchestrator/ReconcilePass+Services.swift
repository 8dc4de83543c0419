import Foundation

/// Replicas, global tasks and restarts, per service.
extension ReconcilePass {
    mutating func reconcileService(_ s: Int) {
        if needsSlotWork(s) {
            let groups = slots(of: s)
            restartEndedTasks(groups, policy: services[s].spec.task.restartPolicy)
            removeDuplicates(groups)
        }
        switch services[s].spec.mode {
        case .replicated(let replicas): scaleReplicated(s, replicas: replicas)
        case .global: reconcileGlobal(s)
        }
        rollingUpdate(s)
    }

    /// Whether restarts or duplicates need the service's tasks grouped by slot: a wanted task
    /// has ended, or two live wanted tasks share a slot (or node). Most passes find neither, and
    /// skip the grouping.
    func needsSlotWork(_ s: Int) -> Bool {
        var highestSlot = 0
        for i in tasksByService[s] where facts[i].desiredState == .running {
            if facts[i].state.isTerminal { return true }
            highestSlot = max(highestSlot, facts[i].slot ?? 0)
        }
        // Slot numbers far beyond the task count (odd stored data): let the grouping decide.
        guard highestSlot <= 2 * tasksByService[s].count + 64 else { return true }
        var slotTaken = [Bool](repeating: false, count: highestSlot + 1)
        var nodeTaken = [Bool](repeating: false, count: nodes.count + strayNodeIDs.count)
        for i in tasksByService[s] where facts[i].desiredState == .running {
            if let slot = facts[i].slot {
                // Slots below 1 are never filled and are shut down by scaling; group them to be safe.
                guard slot >= 1, !slotTaken[slot] else { return true }
                slotTaken[slot] = true
            } else if facts[i].node >= 0 {
                guard !nodeTaken[facts[i].node] else { return true }
                nodeTaken[facts[i].node] = true
            }
        }
        return false
    }

    /// Replaces tasks that ended while wanted, by the restart policy: the ended task gets
    /// desired state shutdown, which empties its slot for a new one.
    mutating func restartEndedTasks(_ groups: [SlotGroup], policy: RestartPolicy) {
        for group in groups {
            // Decide for the whole slot before changing any of it: each decision sees the slot as stored.
            let ended = group.members.filter { facts[$0].desiredState == .running && facts[$0].state.isTerminal }
            let decisions = ended.map { restartDecision($0, policy: policy, slotTasks: group.members) }
            for (i, decision) in zip(ended, decisions) {
                switch decision {
                case .now: shutDown(i)
                case .at(let due): wake(at: due)
                case .never: break
                }
            }
        }
    }

    enum RestartDecision { case now, at(Date), never }

    func restartDecision(_ i: Int, policy: RestartPolicy, slotTasks: ArraySlice<Int>) -> RestartDecision {
        let state = facts[i].state
        // Failure recovery (lost node): at once, whatever the delay and attempts.
        if state == .orphaned { return policy.condition == .none ? .never : .now }
        switch policy.condition {
        case .none: return .never
        case .onFailure where state == .complete: return .never
        default: break
        }
        if let max = policy.maxAttempts, max > 0 {
            let windowStart = policy.windowSeconds.map { now.addingTimeInterval(-$0) }
            var restarts = 0
            for other in slotTasks where other != i {
                let o = facts[other]
                guard o.desiredState > .running else { continue }
                switch o.state {
                case .complete, .failed, .rejected:
                    if windowStart.map({ o.timestamp >= $0 }) ?? true { restarts += 1 }
                default: break
                }
            }
            if restarts >= max { return .never }
        }
        let due = facts[i].timestamp.addingTimeInterval(policy.delaySeconds)
        return now >= due ? .now : .at(due)
    }

    /// A slot with several live wanted tasks keeps one: the newest up-to-date one once it is up
    /// (this ends a start-first replacement); until then the old one keeps running.
    mutating func removeDuplicates(_ groups: [SlotGroup]) {
        for group in groups where group.members.count > 1 {
            let live = group.members.filter { facts[$0].desiredState == .running && !facts[$0].state.isTerminal }
            guard live.count > 1 else { continue }
            let sorted = live.map { (i: $0, task: task($0)) }.sorted { a, b in
                let fa = facts[a.i], fb = facts[b.i]
                if fa.version != fb.version { return fa.version > fb.version }
                if fa.isUp != fb.isUp { return fa.isUp }
                if a.task.createdAt != b.task.createdAt { return a.task.createdAt > b.task.createdAt }
                return a.task.id > b.task.id
            }
            guard let best = sorted.first?.i else { continue }
            for other in sorted.dropFirst() {
                if facts[best].isUp || facts[other.i].version == facts[best].version { shutDown(other.i) }
            }
        }
    }

    mutating func scaleReplicated(_ s: Int, replicas: Int) {
        var filled = [Bool](repeating: false, count: max(replicas, 0) + 1)
        for i in tasksByService[s] where facts[i].desiredState == .running {
            if let slot = facts[i].slot, slot >= 1, slot <= replicas { filled[slot] = true } else { shutDown(i) }
        }
        guard replicas > 0 else { return }
        for slot in 1...replicas where !filled[slot] { createTask(s, slot: slot, node: -1) }
    }

    mutating func reconcileGlobal(_ s: Int) {
        let fits = GlobalFit(services[s])
        let version = services[s].version
        var covered = [Bool](repeating: false, count: nodes.count)
        for i in tasksByService[s] where facts[i].desiredState == .running {
            let f = facts[i]
            guard let node = node(f.node), node.state != .down, node.availability != .drain, f.version < version || fits(node)
            else {
                // Tasks of an older spec are the rolling update's to replace, not removed here.
                shutDown(i)
                continue
            }
            covered[f.node] = true
        }
        for ref in nodes.indices where !covered[ref] {
            guard nodes[ref].state == .ready, nodes[ref].availability == .active, fits(nodes[ref]) else { continue }
            createTask(s, slot: nil, node: ref)
        }
    }
}

/// Whether a global service's current spec wants a task on a node (constraints, devices),
/// with the constraints parsed once.
struct GlobalFit {
    private let constraints: [Constraint]?
    private let devices: [String]

    init(_ service: Service) {
        constraints = try? Constraint.parse(service.spec.task.placement.constraints)
        devices = service.spec.task.hostDevices
    }

    func callAsFunction(_ node: Node) -> Bool {
        guard let constraints else { return false }
        return constraints.allSatisfy { $0.matches(node) } && devices.allSatisfy(node.description.devices.contains)
    }
}
