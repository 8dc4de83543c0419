// The reconciler as it was before the index-based rewrite (commit f7a714e's working tree), kept
// verbatim but renamed as the oracle of ReconcilerEquivalenceTests: the fast pass must decide the same.
import Foundation
@testable import PierCluster

/// Decides how the cluster converges on its services, as Swarm's orchestrators do: replicas and
/// global tasks, restarts by policy, node failure and drain, rolling updates and rollbacks.
///
/// A pure function of a snapshot: no I/O, no clock but `snapshot.now`, and no state of its own,
/// so a restarted manager continues from what it stored. Run a pass after every store change
/// and at the plan's `nextWakeup`.
struct ReferenceReconciler: Sendable {
    var configuration: Reconciler.Configuration
    var makeID: @Sendable () -> String

    /// One pass: what to change so the cluster moves towards its services' desired state.
    func reconcile(_ snapshot: ClusterSnapshot) -> ReconcilePlan {
        var pass = ReferencePass(snapshot: snapshot, configuration: configuration, makeID: makeID)
        pass.run()
        return pass.plan()
    }
}

/// Which replica a task fills: a slot number, or a node for global services.
enum ReferenceSlotKey: Hashable, Comparable {
    case slot(Int)
    case node(String)
    case none(String)

    init(_ task: ClusterTask) {
        if let slot = task.slot { self = .slot(slot) } else if let node = task.nodeID { self = .node(node) } else { self = .none(task.id) }
    }

    static func < (a: ReferenceSlotKey, b: ReferenceSlotKey) -> Bool {
        switch (a, b) {
        case (.slot(let x), .slot(let y)): x < y
        case (.node(let x), .node(let y)): x < y
        case (.none(let x), .none(let y)): x < y
        case (.slot, _): true
        case (.node, .none): true
        default: false
        }
    }
}

/// The working copy of one pass: changes are made here and diffed into actions at the end.
struct ReferencePass {
    let now: Date
    let configuration: Reconciler.Configuration
    let makeID: @Sendable () -> String
    var nodes: [String: Node]
    var nodeOrder: [String]
    var services: [String: Service]
    let originalServices: [String: Service]
    var tasks: [String: ClusterTask]
    let originalTasks: [String: ClusterTask]
    var tasksByService: [String: [String]] = [:]
    var changedTasks: Set<String> = []
    var createdTasks: [String] = []
    var deletedTasks: Set<String> = []
    var downMessages: [(String, String)] = []
    var changedServices: Set<String> = []
    var wakeup: Date?

    init(snapshot: ClusterSnapshot, configuration: Reconciler.Configuration, makeID: @escaping @Sendable () -> String) {
        now = snapshot.now
        self.configuration = configuration
        self.makeID = makeID
        var nodes: [String: Node] = [:]
        for node in snapshot.nodes { nodes[node.id] = node }
        self.nodes = nodes
        nodeOrder = nodes.keys.sorted()
        var services: [String: Service] = [:]
        for service in snapshot.services { services[service.id] = service }
        self.services = services
        originalServices = services
        var tasks: [String: ClusterTask] = [:]
        // Room for the tasks this pass may create: growing a dictionary of large values is costly.
        let wanted = snapshot.services.reduce(0) { total, service in
            if case .replicated(let n) = service.spec.mode { return total + max(n, 0) }
            return total + snapshot.nodes.count
        }
        tasks.reserveCapacity(snapshot.tasks.count + wanted)
        var byService: [String: [String]] = [:]
        for task in snapshot.tasks {
            tasks[task.id] = task
            byService[task.serviceID, default: []].append(task.id)
        }
        self.tasks = tasks
        originalTasks = tasks
        tasksByService = byService
    }

    // MARK: - The pass

    mutating func run() {
        detectDownNodes()
        handleLostAndDrainedNodes()
        handleRemovedServices()
        for id in services.keys.sorted() { reconcileService(id) }
        shutDownUnassigned()
        schedulePending()
        pruneHistory()
    }

    func plan() -> ReconcilePlan {
        var actions: [ReconcileAction] = downMessages.map { .markNodeDown(nodeID: $0.0, message: $0.1) }
        for id in changedServices.sorted() {
            if let service = services[id], service != originalServices[id] { actions.append(.updateService(service)) }
        }
        let created = Set(createdTasks)
        for id in createdTasks where !deletedTasks.contains(id) {
            if let task = tasks[id] { actions.append(.create(task)) }
        }
        for id in changedTasks.sorted() where !created.contains(id) && !deletedTasks.contains(id) {
            if let task = tasks[id], task != originalTasks[id] { actions.append(.update(task)) }
        }
        for id in deletedTasks.sorted() where !created.contains(id) { actions.append(.delete(taskID: id)) }
        return ReconcilePlan(actions: actions, nextWakeup: wakeup)
    }

    // MARK: - Helpers

    mutating func wake(at date: Date) {
        guard date > now else { return }
        if let current = wakeup, current <= date { return }
        wakeup = date
    }

    mutating func modify(_ id: String, _ change: (inout ClusterTask) -> Void) {
        guard var task = tasks[id] else { return }
        change(&task)
        tasks[id] = task
        changedTasks.insert(id)
    }

    mutating func setStatus(_ id: String, _ state: TaskState, _ message: String, error: String? = nil) {
        let now = self.now
        modify(id) { $0.transition(to: TaskStatus(state: state, timestamp: now, message: message, error: error)) }
    }

    mutating func shutDown(_ id: String) {
        modify(id) { $0.desiredState = .shutdown }
    }

    mutating func saveService(_ service: Service) {
        guard services[service.id] != service else { return }
        services[service.id] = service
        changedServices.insert(service.id)
    }

    /// Creates a pending task of the service's current spec in a slot (or pinned to a node).
    @discardableResult
    mutating func createTask(_ service: Service, slot: Int?, nodeID: String?) -> String {
        let task = ClusterTask(
            id: makeID(), serviceID: service.id, serviceName: service.spec.name, slot: slot, nodeID: nodeID,
            serviceVersion: service.version, template: service.spec.task, image: service.spec.task.container.image,
            desiredState: .running, status: TaskStatus(state: .pending, timestamp: now, message: "pending task scheduling"),
            createdAt: now
        )
        tasks[task.id] = task
        tasksByService[service.id, default: []].append(task.id)
        createdTasks.append(task.id)
        return task.id
    }

    func serviceTasks(_ serviceID: String) -> [ClusterTask] {
        (tasksByService[serviceID] ?? []).compactMap { tasks[$0] }
    }

    func slots(of serviceID: String) -> [ReferenceSlotKey: [ClusterTask]] {
        Dictionary(grouping: serviceTasks(serviceID), by: ReferenceSlotKey.init)
    }

    // MARK: - Nodes

    mutating func detectDownNodes() {
        let grace = configuration.heartbeatGraceSeconds
        for id in nodeOrder {
            guard var node = nodes[id], node.state == .ready else { continue }
            let last = node.lastHeartbeat ?? node.updatedAt
            let deadline = last.addingTimeInterval(grace)
            if now >= deadline {
                let silence = now.timeIntervalSince(last)
                let message = "heartbeat missed for \(String(format: "%.1f", silence))s (grace \(grace)s)"
                node.state = .down
                node.message = message
                nodes[id] = node
                downMessages.append((id, message))
            } else {
                wake(at: deadline)
            }
        }
    }

    /// Tasks on down or removed nodes become orphaned; tasks on drained nodes are shut down.
    mutating func handleLostAndDrainedNodes() {
        for id in tasks.keys.sorted() {
            guard let task = tasks[id], let nodeID = task.nodeID, !task.status.state.isTerminal else { continue }
            let node = nodes[nodeID]
            if task.status.state >= .assigned {
                if node == nil {
                    setStatus(id, .orphaned, "node \(nodeID) removed", error: "node \(nodeID) was removed from the cluster")
                } else if node?.state == .down {
                    setStatus(id, .orphaned, "node \(nodeID) down", error: "node \(nodeID) down: \(node?.message ?? "no heartbeat")")
                } else if node?.availability == .drain, task.desiredState == .running {
                    shutDown(id)
                }
            } else if task.desiredState == .running, node == nil || node?.state == .down || node?.availability == .drain {
                shutDown(id)
            }
        }
    }

    mutating func handleRemovedServices() {
        for (serviceID, ids) in tasksByService where services[serviceID] == nil {
            for id in ids where tasks[id]?.desiredState == .running { shutDown(id) }
        }
    }

    // MARK: - Services

    mutating func reconcileService(_ id: String) {
        guard let service = services[id] else { return }
        restartEndedTasks(service)
        removeDuplicates(service)
        switch service.spec.mode {
        case .replicated(let replicas): scaleReplicated(service, replicas: replicas)
        case .global: reconcileGlobal(service)
        }
        rollingUpdate(id)
    }

    /// Replaces tasks that ended while wanted, by the restart policy: the ended task gets
    /// desired state shutdown, which empties its slot for a new one.
    mutating func restartEndedTasks(_ service: Service) {
        let policy = service.spec.task.restartPolicy
        let grouped = slots(of: service.id)
        for (_, slotTasks) in grouped {
            for task in slotTasks where task.desiredState == .running && task.status.state.isTerminal {
                switch restartDecision(task, policy: policy, slotTasks: slotTasks) {
                case .now: shutDown(task.id)
                case .at(let due): wake(at: due)
                case .never: break
                }
            }
        }
    }

    enum RestartDecision { case now, at(Date), never }

    func restartDecision(_ task: ClusterTask, policy: RestartPolicy, slotTasks: [ClusterTask]) -> RestartDecision {
        let state = task.status.state
        // Failure recovery (lost node): at once, whatever the delay and attempts.
        if state == .orphaned { return policy.condition == .none ? .never : .now }
        switch policy.condition {
        case .none: return .never
        case .onFailure where state == .complete: return .never
        default: break
        }
        if let max = policy.maxAttempts, max > 0 {
            let windowStart = policy.windowSeconds.map { now.addingTimeInterval(-$0) }
            let restarts = slotTasks.filter { other in
                other.id != task.id && other.desiredState > .running
                    && [.complete, .failed, .rejected].contains(other.status.state)
                    && windowStart.map { other.status.timestamp >= $0 } ?? true
            }.count
            if restarts >= max { return .never }
        }
        let due = task.status.timestamp.addingTimeInterval(policy.delaySeconds)
        return now >= due ? .now : .at(due)
    }

    /// A slot with several live wanted tasks keeps one: the newest up-to-date one once it is up
    /// (this ends a start-first replacement); until then the old one keeps running.
    mutating func removeDuplicates(_ service: Service) {
        for (_, slotTasks) in slots(of: service.id) {
            let live = slotTasks.filter { $0.desiredState == .running && !$0.status.state.isTerminal }
            guard live.count > 1 else { continue }
            let sorted = live.sorted { a, b in
                let ka = (a.serviceVersion, isUp(a) ? 1 : 0, a.createdAt), kb = (b.serviceVersion, isUp(b) ? 1 : 0, b.createdAt)
                if ka.0 != kb.0 { return ka.0 > kb.0 }
                if ka.1 != kb.1 { return ka.1 > kb.1 }
                if ka.2 != kb.2 { return ka.2 > kb.2 }
                return a.id > b.id
            }
            guard let best = sorted.first else { continue }
            for other in sorted.dropFirst() {
                if isUp(best) || other.serviceVersion == best.serviceVersion { shutDown(other.id) }
            }
        }
    }

    /// Running, and healthy if the container has a health check.
    func isUp(_ task: ClusterTask) -> Bool {
        task.status.state == .running && (task.template.container.health == nil || task.health == "healthy")
    }

    mutating func scaleReplicated(_ service: Service, replicas: Int) {
        var filled = Set<Int>()
        for task in serviceTasks(service.id) where task.desiredState == .running {
            if let slot = task.slot, slot >= 1, slot <= replicas { filled.insert(slot) } else { shutDown(task.id) }
        }
        guard replicas > 0 else { return }
        for slot in 1...replicas where !filled.contains(slot) { createTask(service, slot: slot, nodeID: nil) }
    }

    mutating func reconcileGlobal(_ service: Service) {
        func fits(_ node: Node) -> Bool { globalFits(service, node) }
        var covered = Set<String>()
        for task in serviceTasks(service.id) where task.desiredState == .running {
            guard let nodeID = task.nodeID, let node = nodes[nodeID], node.state != .down, node.availability != .drain,
                  task.serviceVersion < service.version || fits(node)
            else {
                // Tasks of an older spec are the rolling update's to replace, not removed here.
                shutDown(task.id)
                continue
            }
            covered.insert(nodeID)
        }
        for id in nodeOrder where !covered.contains(id) {
            guard let node = nodes[id], node.state == .ready, node.availability == .active, fits(node) else { continue }
            createTask(service, slot: nil, nodeID: id)
        }
    }

    // MARK: - Scheduling and cleanup

    /// Wanted-no-more tasks that never reached a node end here; no agent will report them.
    mutating func shutDownUnassigned() {
        for id in tasks.keys.sorted() {
            guard let task = tasks[id], task.desiredState > .running, task.status.state < .assigned else { continue }
            setStatus(id, .shutdown, "removed before it was assigned")
        }
    }

    mutating func schedulePending() {
        // Sort small keys, not the tasks themselves: a task is a large struct.
        struct Key { var serviceID: String; var slot: Int; var nodeID: String; var id: String }
        let keys = tasks.values
            .filter { $0.desiredState == .running && $0.status.state < .assigned }
            .map { Key(serviceID: $0.serviceID, slot: $0.slot ?? 0, nodeID: $0.nodeID ?? "", id: $0.id) }
            .sorted { a, b in
                if a.serviceID != b.serviceID { return a.serviceID < b.serviceID }
                if a.slot != b.slot { return a.slot < b.slot }
                if a.nodeID != b.nodeID { return a.nodeID < b.nodeID }
                return a.id < b.id
            }
        guard !keys.isEmpty else { return }
        let pending = keys.compactMap { tasks[$0.id] }
        var scheduler = Scheduler(nodes: Array(nodes.values), tasks: tasks.values)
        let outcomes = scheduler.schedule(pending)
        for (task, outcome) in zip(pending, outcomes) {
            switch outcome {
            case .assigned(let nodeID):
                let now = self.now
                modify(task.id) {
                    $0.nodeID = nodeID
                    $0.transition(to: TaskStatus(state: .assigned, timestamp: now, message: "scheduler assigned task to node \(nodeID)"))
                }
            case .pending(let reason):
                if task.status.state != .pending || task.status.message != reason {
                    setStatus(task.id, .pending, reason)
                }
            }
        }
    }

    /// Deletes ended tasks beyond the history limit of each slot, and ended tasks of removed services.
    mutating func pruneHistory() {
        for (serviceID, ids) in tasksByService {
            guard let service = services[serviceID] else {
                for id in ids where tasks[id]?.status.state.isTerminal == true && tasks[id]?.desiredState != .running {
                    deletedTasks.insert(id)
                }
                continue
            }
            var limit = configuration.taskHistoryLimit
            if let max = service.spec.task.restartPolicy.maxAttempts, max > 0 { limit = Swift.max(limit, max) }
            for (_, slotTasks) in slots(of: serviceID) {
                let ended = slotTasks
                    .filter { $0.desiredState > .running && $0.status.state.isTerminal }
                    .sorted { ($0.status.timestamp, $0.id) > ($1.status.timestamp, $1.id) }
                for task in ended.dropFirst(limit) { deletedTasks.insert(task.id) }
            }
        }
    }
}

/// Rolling updates and rollbacks, Swarm's updater as a function of stored state.
///
/// A task is out of date when it was made from an older version of the service and its template
/// differs from the current one. Out-of-date slots are replaced `parallelism` at a time: a new
/// task counts as in flight until it has been up (running, and healthy if it has a check) for
/// the monitor window; the next batch starts when fewer than `parallelism` are in flight and
/// `delaySeconds` have passed since the last one finished. New tasks that fail, are rejected or
/// report unhealthy before finishing count as failures (recorded in `UpdateStatus.failedTaskIDs`);
/// when failures / updated tasks exceed `maxFailureRatio`, the failure action is taken.
extension ReferencePass {
    func isOutOfDate(_ task: ClusterTask, _ service: Service) -> Bool {
        task.serviceVersion < service.version && task.template != service.spec.task
    }

    /// When the task first reported running, from its history.
    func runningSince(_ task: ClusterTask) -> Date? {
        task.history.first { $0.state == .running }?.timestamp
    }

    mutating func rollingUpdate(_ serviceID: String) {
        guard var service = services[serviceID] else { return }
        let grouped = slots(of: serviceID)
        var outdated: [ReferenceSlotKey] = []
        for (key, slotTasks) in grouped {
            let wanted = slotTasks.filter { $0.desiredState == .running }
            if wanted.contains(where: { isOutOfDate($0, service) }) && !wanted.contains(where: { !isOutOfDate($0, service) }) {
                outdated.append(key)
            }
        }
        outdated.sort()

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

        let updated = serviceTasks(serviceID).filter { $0.serviceVersion == service.version }
        var failed = Set(status.failedTaskIDs)
        for task in updated where !failed.contains(task.id) {
            let since = runningSince(task)
            let ended = task.status.state == .failed || task.status.state == .rejected
            let early = since.map { task.status.timestamp < $0.addingTimeInterval(monitor) } ?? true
            if (ended && early) || (task.health == "unhealthy" && task.desiredState == .running && !task.status.state.isTerminal) {
                failed.insert(task.id)
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
                    saveService(service)
                    rollingUpdate(serviceID)
                }
                return
            case .pause, .rollback:
                status.state = rollingBack ? .rollbackPaused : .paused
                status.message = "\(rollingBack ? "rollback" : "update") paused \(why)"
                service.updateStatus = status
                saveService(service)
                return
            }
        }

        var inFlight = 0
        var lastFinished: Date?
        for task in updated where task.desiredState == .running && !task.status.state.isTerminal {
            if isUp(task), let since = runningSince(task), now >= since.addingTimeInterval(monitor) {
                let finished = since.addingTimeInterval(monitor)
                lastFinished = max(lastFinished ?? finished, finished)
            } else {
                inFlight += 1
                if isUp(task), let since = runningSince(task) { wake(at: since.addingTimeInterval(monitor)) }
            }
        }

        defer {
            service.updateStatus = status
            saveService(service)
        }
        if outdated.isEmpty {
            if inFlight == 0 {
                status.state = rollingBack ? .rollbackCompleted : .completed
                status.message = rollingBack ? "rollback completed" : "update completed"
                status.completedAt = now
            }
            return
        }
        // Download-then-switch: wait until the nodes of the outdated tasks hold the new image.
        if configuration.stageTimeoutSeconds > 0 {
            let image = service.spec.task.container.image
            var needing = Set<String>(), missing = Set<String>()
            for key in outdated {
                for task in grouped[key] ?? [] where task.desiredState == .running && !task.status.state.isTerminal && task.image != image {
                    guard let nodeID = task.nodeID, let node = nodes[nodeID], node.state == .ready else { continue }
                    needing.insert(nodeID)
                    if !(node.stagedImages ?? []).contains(image) { missing.insert(nodeID) }
                }
            }
            if missing.isEmpty {
                if status.message.hasPrefix("staging ") { status.message = "update in progress" }
            } else {
                let since = status.stagingSince ?? now
                status.stagingSince = since
                let deadline = since.addingTimeInterval(configuration.stageTimeoutSeconds)
                if now < deadline {
                    if !rollingBack {
                        status.message = "staging \(image) on \(missing.count) of \(needing.count) node(s) before replacing their tasks"
                    }
                    wake(at: deadline)
                    return
                }
                if !rollingBack {
                    status.message = "update in progress; \(missing.count) node(s) did not stage \(image) within "
                        + "\(Int(configuration.stageTimeoutSeconds)) s and pull it as they start the new tasks"
                }
            }
        }
        let capacity = config.parallelism == 0 ? outdated.count : config.parallelism - inFlight
        guard capacity > 0 else { return }
        if config.delaySeconds > 0, let lastFinished {
            let next = lastFinished.addingTimeInterval(config.delaySeconds)
            if now < next { wake(at: next); return }
        }
        for key in outdated.prefix(capacity) {
            let old = (grouped[key] ?? []).filter { $0.desiredState == .running }
            switch key {
            case .slot(let slot):
                if config.order == .stopFirst { old.forEach { shutDown($0.id) } }
                createTask(service, slot: slot, nodeID: nil)
            case .node(let nodeID):
                guard let node = nodes[nodeID], node.state == .ready, node.availability == .active, globalFits(service, node) else {
                    old.forEach { shutDown($0.id) }
                    continue
                }
                if config.order == .stopFirst { old.forEach { shutDown($0.id) } }
                createTask(service, slot: nil, nodeID: nodeID)
            case .none:
                old.forEach { shutDown($0.id) }
            }
        }
    }

    /// Whether a global service's current spec wants a task on the node (constraints, devices).
    func globalFits(_ service: Service, _ node: Node) -> Bool {
        guard let constraints = try? Constraint.parse(service.spec.task.placement.constraints) else { return false }
        let present = Set(node.description.devices)
        return constraints.allSatisfy { $0.matches(node) } && service.spec.task.hostDevices.allSatisfy(present.contains)
    }
}
