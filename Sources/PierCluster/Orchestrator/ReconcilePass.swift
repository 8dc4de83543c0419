import Foundation

/// Which replica a task fills: a slot number, a node (a node reference of the pass) for global
/// services, or the task itself (a task index) when it has neither. Ordered for grouping only;
/// `ReconcilePass.precedes` orders keys by the ids they stand for.
enum SlotKey: Hashable, Comparable {
    case slot(Int)
    case node(Int)
    case none(Int)

    private var rank: (Int, Int) {
        switch self {
        case .slot(let n): (0, n)
        case .node(let n): (1, n)
        case .none(let n): (2, n)
        }
    }

    static func < (a: SlotKey, b: SlotKey) -> Bool { a.rank < b.rank }
}

/// The tasks of one slot: indices into the pass's tasks.
struct SlotGroup {
    var key: SlotKey
    var members: ArraySlice<Int>
}

/// What the pass decides from, per task: the few small fields its loops read, kept beside the
/// (large) task so that deciding never copies one. Updated whenever the pass changes the task.
struct TaskFacts {
    /// Index into `ReconcilePass.services`; -1 when the service no longer exists.
    var service: Int
    /// Node reference (see `ReconcilePass.nodeName`); -1 when unassigned.
    var node: Int
    var slot: Int?
    var version: Int
    var desiredState: TaskState
    var state: TaskState
    var timestamp: Date
    /// Running, and healthy if the container has a health check.
    var isUp: Bool
    var changed = false
    var deleted = false

    init(_ task: ClusterTask, service: Int, node: Int) {
        self.service = service
        self.node = node
        slot = task.slot
        version = task.serviceVersion
        desiredState = task.desiredState
        state = task.status.state
        timestamp = task.status.timestamp
        isUp = Self.isUp(task)
    }

    static func isUp(_ task: ClusterTask) -> Bool {
        task.status.state == .running && (task.template.container.health == nil || task.health == "healthy")
    }
}

/// The working copy of one pass: changes are made here and diffed into actions at the end.
///
/// Built for 1,000 nodes and 30,000 tasks: tasks are addressed by index, never copied while
/// deciding (`facts` holds what the decisions read), the snapshot's tasks are never written
/// (a changed task is copied once into `edited`), and nodes and services are arrays in id order.
struct ReconcilePass {
    let now: Date
    let configuration: Reconciler.Configuration
    let makeID: @Sendable () -> String
    /// The cluster's nodes in id order; node reference i < nodes.count is nodes[i].
    var nodes: [Node]
    let nodeIndex: [String: Int]
    /// Ids of nodes that tasks name but the cluster no longer has, node references from nodes.count on.
    var strayNodeIDs: [String] = []
    /// Services in id order, and as the snapshot had them.
    var services: [Service]
    let originalServices: [Service]
    /// The snapshot's tasks, indices 0..<stored.count; a changed one is copied into `edited`.
    let stored: [ClusterTask]
    var edited: [Int: ClusterTask] = [:]
    /// Tasks this pass creates, indices from stored.count on.
    var created: [ClusterTask] = []
    var facts: [TaskFacts] = []
    var tasksByService: [[Int]]
    /// Tasks whose service no longer exists.
    var strayTasks: [Int] = []
    var downMessages: [(String, String)] = []
    var changedServices: Set<Int> = []
    var wakeup: Date?

    init(snapshot: ClusterSnapshot, configuration: Reconciler.Configuration, makeID: @escaping @Sendable () -> String) {
        now = snapshot.now
        self.configuration = configuration
        self.makeID = makeID
        // Duplicate ids (a store would never give them): the last one wins.
        var nodesByID: [String: Node] = [:]
        for node in snapshot.nodes { nodesByID[node.id] = node }
        nodes = nodesByID.values.sorted { $0.id < $1.id }
        var nodeIndex: [String: Int] = [:]
        nodeIndex.reserveCapacity(nodes.count)
        for (i, node) in nodes.enumerated() { nodeIndex[node.id] = i }
        self.nodeIndex = nodeIndex
        var servicesByID: [String: Service] = [:]
        for service in snapshot.services { servicesByID[service.id] = service }
        services = servicesByID.values.sorted { $0.id < $1.id }
        originalServices = services
        var serviceIndex: [String: Int] = [:]
        for (i, service) in services.enumerated() { serviceIndex[service.id] = i }

        stored = snapshot.tasks
        let nodeCount = nodes.count
        let wanted = services.reduce(0) { total, service in
            if case .replicated(let n) = service.spec.mode { return total + max(n, 0) }
            return total + nodeCount
        }
        facts.reserveCapacity(stored.count + wanted)
        // Room for the tasks this pass will likely create (all of them from an empty store).
        created.reserveCapacity(max(wanted - stored.count, 0))
        tasksByService = Array(repeating: [], count: services.count)
        var strayIndex: [String: Int] = [:]
        for i in stored.indices {
            let service = serviceIndex[stored[i].serviceID] ?? -1
            var node = -1
            if let nodeID = stored[i].nodeID {
                if let known = nodeIndex[nodeID] {
                    node = known
                } else if let stray = strayIndex[nodeID] {
                    node = stray
                } else {
                    node = nodes.count + strayNodeIDs.count
                    strayIndex[nodeID] = node
                    strayNodeIDs.append(nodeID)
                }
            }
            facts.append(TaskFacts(stored[i], service: service, node: node))
            if service >= 0 { tasksByService[service].append(i) } else { strayTasks.append(i) }
        }
    }

    // MARK: - The pass

    mutating func run() {
        detectDownNodes()
        handleLostAndDrainedNodes()
        handleRemovedServices()
        for s in services.indices { reconcileService(s) }
        shutDownUnassigned()
        schedulePending()
        pruneHistory()
    }

    func plan() -> ReconcilePlan {
        var actions: [ReconcileAction] = downMessages.map { .markNodeDown(nodeID: $0.0, message: $0.1) }
        for s in changedServices.sorted() where services[s] != originalServices[s] {
            actions.append(.updateService(services[s]))
        }
        actions.reserveCapacity(actions.count + created.count)
        for k in created.indices where !facts[stored.count + k].deleted { actions.append(.create(created[k])) }
        let changed = edited.keys.filter { !facts[$0].deleted }.sorted { taskID($0) < taskID($1) }
        for i in changed {
            if let task = edited[i], task != stored[i] { actions.append(.update(task)) }
        }
        let deleted = stored.indices.filter { facts[$0].deleted }.sorted { taskID($0) < taskID($1) }
        for i in deleted { actions.append(.delete(taskID: stored[i].id)) }
        return ReconcilePlan(actions: actions, nextWakeup: wakeup)
    }

    // MARK: - Tasks

    /// A copy of the task as the pass has it now; for the cold paths only.
    func task(_ i: Int) -> ClusterTask {
        i >= stored.count ? created[i - stored.count] : (edited[i] ?? stored[i])
    }

    func taskID(_ i: Int) -> String {
        if i >= stored.count { return created[i - stored.count].id }
        return stored[i].id
    }

    /// The node's id for a node reference.
    func nodeName(_ ref: Int) -> String? {
        if ref < 0 { return nil }
        return ref < nodes.count ? nodes[ref].id : strayNodeIDs[ref - nodes.count]
    }

    /// The node of a reference, nil for an unassigned task or a node the cluster no longer has.
    func node(_ ref: Int) -> Node? {
        ref >= 0 && ref < nodes.count ? nodes[ref] : nil
    }

    mutating func wake(at date: Date) {
        guard date > now else { return }
        if let current = wakeup, current <= date { return }
        wakeup = date
    }

    /// Changes task i in place (a snapshot task is first copied into `edited`) and refreshes its facts.
    mutating func modify(_ i: Int, _ change: (inout ClusterTask) -> Void) {
        var f = facts[i]
        func apply(_ task: inout ClusterTask) {
            change(&task)
            f.desiredState = task.desiredState
            f.state = task.status.state
            f.timestamp = task.status.timestamp
            f.slot = task.slot
            f.isUp = TaskFacts.isUp(task)
        }
        if i >= stored.count {
            apply(&created[i - stored.count])
        } else {
            apply(&edited[i, default: stored[i]])
        }
        f.changed = true
        facts[i] = f
    }

    mutating func setStatus(_ i: Int, _ state: TaskState, _ message: String, error: String? = nil) {
        let now = self.now
        modify(i) { $0.transition(to: TaskStatus(state: state, timestamp: now, message: message, error: error)) }
    }

    mutating func shutDown(_ i: Int) {
        modify(i) { $0.desiredState = .shutdown }
    }

    mutating func saveService(_ s: Int, _ service: Service) {
        guard services[s] != service else { return }
        services[s] = service
        changedServices.insert(s)
    }

    /// Creates a pending task of service s's current spec in a slot (or pinned to a node reference).
    @discardableResult
    mutating func createTask(_ s: Int, slot: Int?, node ref: Int) -> Int {
        let task = ClusterTask(
            id: makeID(), serviceID: services[s].id, serviceName: services[s].spec.name, slot: slot, nodeID: nodeName(ref),
            serviceVersion: services[s].version, template: services[s].spec.task, image: services[s].spec.task.container.image,
            desiredState: .running, status: TaskStatus(state: .pending, timestamp: now, message: "pending task scheduling"),
            createdAt: now
        )
        let i = stored.count + created.count
        facts.append(TaskFacts(task, service: s, node: ref))
        created.append(task)
        tasksByService[s].append(i)
        return i
    }

    func slotKey(_ i: Int) -> SlotKey {
        let f = facts[i]
        if let slot = f.slot { return .slot(slot) }
        return f.node >= 0 ? .node(f.node) : .none(i)
    }

    /// The service's tasks grouped by slot (or node), groups in key order.
    func slots(of s: Int) -> [SlotGroup] {
        var keyed = tasksByService[s].map { (key: slotKey($0), index: $0) }
        keyed.sort { ($0.key, $0.index) < ($1.key, $1.index) }
        let order = keyed.map(\.index)
        var groups: [SlotGroup] = []
        var start = 0
        while start < keyed.count {
            var end = start + 1
            while end < keyed.count, keyed[end].key == keyed[start].key { end += 1 }
            groups.append(SlotGroup(key: keyed[start].key, members: order[start..<end]))
            start = end
        }
        return groups
    }

    /// Slot keys in the order of the ids they stand for: slots, then nodes, then lone tasks.
    func precedes(_ a: SlotKey, _ b: SlotKey) -> Bool {
        switch (a, b) {
        case (.slot(let x), .slot(let y)): x < y
        case (.node(let x), .node(let y)): (nodeName(x) ?? "") < (nodeName(y) ?? "")
        case (.none(let x), .none(let y)): taskID(x) < taskID(y)
        case (.slot, _): true
        case (.node, .none): true
        default: false
        }
    }
}
