import Foundation

/// Rolling updates and rollbacks, Swarm's updater as a function of stored state.
///
/// A task is out of date when it was made from an older version of the service and its template
/// differs from the current one. Out-of-date slots are replaced `parallelism` at a time: a new
/// task counts as in flight until it has been up (running, and healthy if it has a check) for
/// the monitor window; the next batch starts when fewer than `parallelism` are in flight and
/// `delaySeconds` have passed since the last one finished. New tasks that fail, are rejected or
/// report unhealthy before finishing count as failures (recorded in `UpdateStatus.failedTaskIDs`);
/// when failures / updated tasks exceed `maxFailureRatio`, the failure action is taken.
extension ReconcilePass {
    /// When the task first reported running, from its history.
    func runningSince(_ i: Int) -> Date? {
        task(i).history.first { $0.state == .running }?.timestamp
    }

    /// Versions of service s older than its current one whose template differs from the current
    /// spec. Tasks of one version share their template (they were made from the same spec), so
    /// one comparison per version decides for all of its tasks.
    func staleVersions(_ s: Int) -> Set<Int> {
        let current = services[s].version
        var checked = Set<Int>(), stale = Set<Int>()
        for i in tasksByService[s] where facts[i].version < current && !checked.contains(facts[i].version) {
            checked.insert(facts[i].version)
            if task(i).template != services[s].spec.task { stale.insert(facts[i].version) }
        }
        return stale
    }

    mutating func rollingUpdate(_ s: Int) {
        var service = services[s]
        switch service.updateStatus?.state {
        case nil, .completed?, .rollbackCompleted?:
            // Nothing wanted of an older version: nothing to update (the common, idle case).
            let version = service.version
            guard tasksByService[s].contains(where: { facts[$0].desiredState == .running && facts[$0].version < version }) else { return }
        case .paused?, .rollbackPaused?:
            return
        case .updating?, .rollbackStarted?:
            break
        }
        let stale = staleVersions(s)
        func isOutOfDate(_ i: Int) -> Bool { facts[i].version < service.version && stale.contains(facts[i].version) }
        let groups = slots(of: s)
        var outdated: [Int] = []
        for (g, group) in groups.enumerated() {
            var old = false, current = false
            for i in group.members where facts[i].desiredState == .running {
                if isOutOfDate(i) { old = true } else { current = true }
            }
            if old && !current { outdated.append(g) }
        }
        outdated.sort { precedes(groups[$0].key, groups[$1].key) }

        var status: UpdateStatus
        switch service.updateStatus?.state {
        case nil, .completed?, .rollbackCompleted?:
            guard !outdated.isEmpty else { return }
            status = UpdateStatus(state: .updating, message: "update in progress", startedAt: now)
        case .updating?, .rollbackStarted?:
            guard let current = service.updateStatus else { return }
            status = current
        case .paused?, .rollbackPaused?:
            return
        }
        let rollingBack = status.state == .rollbackStarted
        let config = rollingBack ? service.spec.rollback : service.spec.update
        let monitor = config.monitorSeconds

        let updated = tasksByService[s].filter { facts[$0].version == service.version }
        var failed = Set(status.failedTaskIDs)
        for i in updated {
            let f = facts[i]
            if f.state == .failed || f.state == .rejected {
                let early = runningSince(i).map { f.timestamp < $0.addingTimeInterval(monitor) } ?? true
                if early { failed.insert(taskID(i)) }
            } else if f.desiredState == .running && !f.state.isTerminal && task(i).health == "unhealthy" {
                failed.insert(taskID(i))
            }
        }
        status.failedTaskIDs = failed.sorted()

        if !failed.isEmpty, Double(failed.count) / Double(max(updated.count, 1)) > config.maxFailureRatio {
            let culprit = status.failedTaskIDs.first ?? ""
            let why = "due to failure or early termination of task \(culprit)"
            switch config.failureAction {
            case .continue:
                break
            case .rollback where !rollingBack && service.previousSpec != nil:
                if let previous = service.previousSpec {
                    service.previousSpec = service.spec
                    service.spec = previous
                    service.version += 1
                    service.updatedAt = now
                    service.updateStatus = UpdateStatus(state: .rollbackStarted, message: "update rolled back \(why)", startedAt: now)
                    saveService(s, service)
                    rollingUpdate(s)
                }
                return
            case .pause, .rollback:
                status.state = rollingBack ? .rollbackPaused : .paused
                status.message = "\(rollingBack ? "rollback" : "update") paused \(why)"
                service.updateStatus = status
                saveService(s, service)
                return
            }
        }

        var inFlight = 0
        var lastFinished: Date?
        for i in updated where facts[i].desiredState == .running && !facts[i].state.isTerminal {
            let since = facts[i].isUp ? runningSince(i) : nil
            if let since, now >= since.addingTimeInterval(monitor) {
                let finished = since.addingTimeInterval(monitor)
                lastFinished = max(lastFinished ?? finished, finished)
            } else {
                inFlight += 1
                if let since { wake(at: since.addingTimeInterval(monitor)) }
            }
        }

        defer {
            service.updateStatus = status
            saveService(s, service)
        }
        if outdated.isEmpty {
            if inFlight == 0 {
                status.state = rollingBack ? .rollbackCompleted : .completed
                status.message = rollingBack ? "rollback completed" : "update completed"
                status.completedAt = now
            }
            return
        }
        if waitsForStaging(s, outdated: outdated.map { groups[$0] }, status: &status, rollingBack: rollingBack) { return }
        let capacity = config.parallelism == 0 ? outdated.count : config.parallelism - inFlight
        guard capacity > 0 else { return }
        if config.delaySeconds > 0, let lastFinished {
            let next = lastFinished.addingTimeInterval(config.delaySeconds)
            if now < next { wake(at: next); return }
        }
        let fits = GlobalFit(service)
        for g in outdated.prefix(capacity) {
            let old = groups[g].members.filter { facts[$0].desiredState == .running }
            switch groups[g].key {
            case .slot(let slot):
                if config.order == .stopFirst { old.forEach { shutDown($0) } }
                createTask(s, slot: slot, node: -1)
            case .node(let ref):
                guard let node = node(ref), node.state == .ready, node.availability == .active, fits(node) else {
                    old.forEach { shutDown($0) }
                    continue
                }
                if config.order == .stopFirst { old.forEach { shutDown($0) } }
                createTask(s, slot: nil, node: ref)
            case .none:
                old.forEach { shutDown($0) }
            }
        }
    }

    /// Download-then-switch: before replacing a task with one of a new image, the update waits
    /// until the agent of every ready node running an outdated task reports the new image staged
    /// (the manager asks them to fetch it ahead, see `NodeAssignment.stage`), so a slow link
    /// costs time, not downtime. After `stageTimeoutSeconds` it replaces the tasks anyway (their
    /// nodes then pull as they start them); 0 does not wait at all. True while it must wait.
    mutating func waitsForStaging(_ s: Int, outdated: [SlotGroup], status: inout UpdateStatus, rollingBack: Bool) -> Bool {
        guard configuration.stageTimeoutSeconds > 0 else { return false }
        let image = services[s].spec.task.container.image
        var needing = Set<Int>(), missing = Set<Int>()
        for group in outdated {
            for i in group.members where facts[i].desiredState == .running && !facts[i].state.isTerminal && facts[i].node >= 0 {
                guard task(i).image != image, let node = node(facts[i].node), node.state == .ready else { continue }
                needing.insert(facts[i].node)
                if !(node.stagedImages ?? []).contains(image) { missing.insert(facts[i].node) }
            }
        }
        let staging = "staging "
        guard !missing.isEmpty else {
            if status.message.hasPrefix(staging) { status.message = "update in progress" }
            return false
        }
        let since = status.stagingSince ?? now
        status.stagingSince = since
        let deadline = since.addingTimeInterval(configuration.stageTimeoutSeconds)
        guard now < deadline else {
            if !rollingBack {
                status.message = "update in progress; \(missing.count) node(s) did not stage \(image) within "
                    + "\(Int(configuration.stageTimeoutSeconds)) s and pull it as they start the new tasks"
            }
            return false
        }
        if !rollingBack {
            status.message = staging + "\(image) on \(missing.count) of \(needing.count) node(s) before replacing their tasks"
        }
        wake(at: deadline)
        return true
    }
}
