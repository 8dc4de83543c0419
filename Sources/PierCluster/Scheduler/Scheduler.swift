/// Where a task went, or why it could not go anywhere.
public enum SchedulingOutcome: Sendable, Equatable {
    case assigned(nodeID: String)
    /// No node fits; the reason is Swarm-style: `no suitable node (2 nodes lack device /dev/gpiochip0)`.
    case pending(reason: String)

    public var nodeID: String? {
        if case .assigned(let id) = self { id } else { nil }
    }
}

/// Places tasks onto nodes, as Swarm's scheduler does: filters (availability, constraints,
/// devices, platform, resources, host ports, max replicas per node), then ranking (spread
/// preferences, fewest tasks of the service, fewest tasks in total, node id).
///
/// Built once per pass from a snapshot; every placement it makes is counted for the next, so a
/// batch accounts for itself. Tasks of one service version are placed as a group: nodes are
/// filtered once per group and ranked in a heap, so a pass costs O(groups × nodes + tasks × log nodes).
public struct Scheduler: Sendable {
    /// Nodes in id order.
    public private(set) var nodes: [Node]
    private var usage: [NodeUsage]
    private var nodeDevices: [Set<String>]
    private var indexByID: [String: Int]
    /// Per service, its occupying tasks on each node (by node index).
    private var serviceTasks: [String: [Int]] = [:]

    /// Indexes `tasks` (those that occupy a node, see `occupiesNode`) by node and service.
    public init(nodes: [Node], tasks: some Sequence<ClusterTask>) {
        self.nodes = nodes.sorted { $0.id < $1.id }
        usage = Array(repeating: NodeUsage(), count: self.nodes.count)
        nodeDevices = self.nodes.map { Set($0.description.devices) }
        var index: [String: Int] = [:]
        for (i, node) in self.nodes.enumerated() { index[node.id] = i }
        indexByID = index
        for task in tasks where Self.occupiesNode(task) {
            if let nodeID = task.nodeID, let i = index[nodeID] {
                usage[i].add(task.template)
                countTask(of: task.serviceID, at: i)
            }
        }
    }

    /// Nodes already sorted by id with unique ids, and no occupying tasks yet (see `occupy`):
    /// the reconcile pass's way in, which indexes tasks itself without copying them.
    init(sortedNodes: [Node]) {
        nodes = sortedNodes
        usage = Array(repeating: NodeUsage(), count: nodes.count)
        nodeDevices = nodes.map { Set($0.description.devices) }
        var index: [String: Int] = [:]
        index.reserveCapacity(nodes.count)
        for (i, node) in nodes.enumerated() { index[node.id] = i }
        indexByID = index
    }

    /// Counts a task that occupies the node at `nodeIndex` (an index into `nodes`).
    mutating func occupy(nodeIndex: Int, serviceID: String, reservations: Resources, ports: [PortClaim]) {
        guard usage.indices.contains(nodeIndex) else { return }
        usage[nodeIndex].add(reservations, ports: ports)
        countTask(of: serviceID, at: nodeIndex)
    }

    /// Whether a task counts against its node's resources, ports and replica caps: it is
    /// assigned, not ended, and still wanted. Tasks being shut down free their node at once.
    public static func occupiesNode(_ task: ClusterTask) -> Bool {
        task.nodeID != nil && task.desiredState <= .running && task.status.state >= .assigned && !task.status.state.isTerminal
    }

    /// Records a task placed outside `schedule` (so later placements count it).
    public mutating func record(_ task: ClusterTask) {
        guard Self.occupiesNode(task), let nodeID = task.nodeID, let i = indexByID[nodeID] else { return }
        usage[i].add(task.template)
        countTask(of: task.serviceID, at: i)
    }

    private mutating func countTask(of serviceID: String, at i: Int) {
        serviceTasks[serviceID, default: Array(repeating: 0, count: nodes.count)][i] += 1
    }

    /// Places a batch. A task whose `nodeID` is already set (a global service's) is only checked
    /// against that node. Returns one outcome per task, in order.
    public mutating func schedule(_ tasks: [ClusterTask]) -> [SchedulingOutcome] {
        let requests = tasks.map { PlacementRequest(serviceID: $0.serviceID, version: $0.serviceVersion, pinned: $0.nodeID) }
        return schedule(requests) { tasks[$0].template }
    }

    /// Places a batch described without whole tasks: `template(i)` gives request i's template,
    /// asked once per group of requests with the same service, version and pinned node.
    mutating func schedule(_ requests: [PlacementRequest], template: (Int) -> TaskTemplate) -> [SchedulingOutcome] {
        var outcomes = Array(repeating: SchedulingOutcome.pending(reason: "not scheduled"), count: requests.count)
        var groupIndex: [PlacementRequest: Int] = [:]
        var keys: [PlacementRequest] = []
        var groups: [[Int]] = []
        var current = -1
        for (i, request) in requests.enumerated() {
            // Requests of a group mostly come one after another: hash only when the group changes.
            if current < 0 || keys[current] != request {
                if let known = groupIndex[request] {
                    current = known
                } else {
                    current = keys.count
                    groupIndex[request] = current
                    keys.append(request)
                    groups.append([])
                }
            }
            groups[current].append(i)
        }
        for (key, members) in zip(keys, groups) {
            guard let first = members.first else { continue }
            let requirements: Requirements
            do { requirements = try Requirements(serviceID: key.serviceID, template: template(first)) } catch {
                for i in members { outcomes[i] = .pending(reason: "no suitable node (\(error))") }
                continue
            }
            if let pinned = key.pinned {
                for i in members { outcomes[i] = placePinned(requirements, on: pinned) }
            } else {
                let placed = placeGroup(requirements, count: members.count)
                for (i, outcome) in zip(members, placed) { outcomes[i] = outcome }
            }
        }
        return outcomes
    }

    /// Why a node cannot take the task, or nil if it can.
    private func rejection(_ r: Requirements, at i: Int, serviceTasks: Int) -> Rejection? {
        let node = nodes[i]
        guard node.state == .ready, node.availability == .active else { return .unavailable }
        for c in r.constraints where !c.matches(node) { return .constraints }
        for device in r.devices where !nodeDevices[i].contains(device) { return .device(device) }
        for need in r.isolation where !need.isMet(by: node.description.isolation) { return .isolation(need) }
        if let platforms = r.platforms, !platforms.isEmpty {
            let os = node.description.platform.os.lowercased()
            let arch = Platform.normalizedArchitecture(node.description.platform.architecture)
            let fits = platforms.contains { p in
                p.os.lowercased() == os && Platform.normalizedArchitecture(p.architecture) == arch
                    && (p.variant == nil || node.description.platform.variant == nil || p.variant == node.description.platform.variant)
            }
            if !fits { return .platform }
        }
        let u = usage[i]
        let capacity = node.description.resources
        if r.reservations.cpus > 0, u.cpus + r.reservations.cpus > capacity.cpus + 1e-9 { return .resources }
        if r.reservations.memoryBytes > 0, u.memoryBytes + r.reservations.memoryBytes > capacity.memoryBytes { return .resources }
        for claim in r.ports where u.ports.contains(claim) { return .ports }
        if r.maxReplicasPerNode > 0, serviceTasks >= r.maxReplicasPerNode { return .maxReplicas }
        return nil
    }

    private mutating func placePinned(_ r: Requirements, on nodeID: String) -> SchedulingOutcome {
        guard let i = indexByID[nodeID] else { return .pending(reason: "no suitable node (node \(nodeID) is not in the cluster)") }
        if let rejected = rejection(r, at: i, serviceTasks: serviceTasks[r.serviceID]?[i] ?? 0) {
            var counts = RejectionCounts()
            counts.add(rejected)
            return .pending(reason: counts.reason)
        }
        usage[i].add(r)
        countTask(of: r.serviceID, at: i)
        return .assigned(nodeID: nodeID)
    }

    private mutating func placeGroup(_ r: Requirements, count: Int) -> [SchedulingOutcome] {
        // Taken out while placing, so that counting stays in place (no copy of the array).
        var perNode = serviceTasks.removeValue(forKey: r.serviceID) ?? Array(repeating: 0, count: nodes.count)
        defer { serviceTasks[r.serviceID] = perNode }
        var counts = RejectionCounts()
        let root = SpreadBranch()
        for i in nodes.indices {
            if let rejected = rejection(r, at: i, serviceTasks: perNode[i]) { counts.add(rejected); continue }
            let path = r.preferences.map { $0.spread.value(of: nodes[i]) ?? "" }
            root.insert(rank(i, perNode[i]), path: path, serviceTasks: perNode[i])
        }
        var outcomes: [SchedulingOutcome] = []
        outcomes.reserveCapacity(count)
        while outcomes.count < count {
            guard let (entry, trail) = root.popBest() else { break }
            let i = entry.index
            usage[i].add(r)
            perNode[i] += 1
            trail.forEach { $0.count += 1 }
            outcomes.append(.assigned(nodeID: nodes[i].id))
            if let rejected = rejection(r, at: i, serviceTasks: perNode[i]) {
                counts.add(rejected)
                root.prune(trail)
            } else {
                trail.last?.heap.push(rank(i, perNode[i]))
            }
        }
        if outcomes.count < count {
            let pending = SchedulingOutcome.pending(reason: nodes.isEmpty ? "no suitable node (no nodes in the cluster)" : counts.reason)
            outcomes.append(contentsOf: repeatElement(pending, count: count - outcomes.count))
        }
        return outcomes
    }

    private func rank(_ i: Int, _ serviceTasks: Int) -> Rank {
        Rank(serviceTasks: serviceTasks, totalTasks: usage[i].total, index: i)
    }
}

/// One task to place: tasks of one service version (and pinned node) share their requirements.
struct PlacementRequest: Hashable {
    var serviceID: String
    var version: Int
    var pinned: String?
}

/// What a group of tasks asks of a node, parsed once.
private struct Requirements {
    var serviceID: String
    var constraints: [Constraint]
    var preferences: [PlacementPreference]
    var devices: [String]
    var isolation: [IsolationNeed]
    var platforms: [Platform]?
    var reservations: Resources
    var ports: [PortClaim]
    var maxReplicasPerNode: Int

    init(serviceID: String, template: TaskTemplate) throws(ClusterSpecError) {
        self.serviceID = serviceID
        constraints = try Constraint.parse(template.placement.constraints)
        preferences = try PlacementPreference.parse(template.placement.preferences)
        devices = template.hostDevices
        isolation = template.isolationNeeds
        platforms = template.platforms
        reservations = template.reservations
        ports = template.portClaims
        maxReplicasPerNode = template.placement.maxReplicasPerNode ?? 0
    }
}

/// What the node's occupying tasks hold.
private struct NodeUsage {
    var cpus: Double = 0
    var memoryBytes: Int64 = 0
    var ports: Set<PortClaim> = []
    var total = 0

    mutating func add(_ template: TaskTemplate) {
        add(template.reservations, ports: template.portClaims)
    }

    mutating func add(_ r: Requirements) {
        add(r.reservations, ports: r.ports)
    }

    mutating func add(_ reservations: Resources, ports claims: [PortClaim]) {
        cpus += reservations.cpus
        memoryBytes += reservations.memoryBytes
        if !claims.isEmpty { ports.formUnion(claims) }
        total += 1
    }
}

/// A candidate node's position: fewest tasks of the service, then fewest in total, then id
/// (nodes are kept in id order, so the index stands for the id).
private struct Rank: Comparable {
    var serviceTasks: Int
    var totalTasks: Int
    var index: Int

    static func < (a: Rank, b: Rank) -> Bool {
        (a.serviceTasks, a.totalTasks, a.index) < (b.serviceTasks, b.totalTasks, b.index)
    }
    static func == (a: Rank, b: Rank) -> Bool { a.index == b.index && a.serviceTasks == b.serviceTasks && a.totalTasks == b.totalTasks }
}

/// One level of the spread tree: children per label value, or at the leaves a heap of nodes.
/// `count` is the service's tasks on the branch's eligible nodes.
private final class SpreadBranch {
    var count = 0
    var children: [String: SpreadBranch] = [:]
    var heap = Heap<Rank>()
    weak var parent: SpreadBranch?
    var key = ""

    func insert(_ rank: Rank, path: [String], serviceTasks: Int) {
        var branch = self
        branch.count += serviceTasks
        for value in path {
            let child: SpreadBranch
            if let existing = branch.children[value] { child = existing } else {
                child = SpreadBranch()
                child.parent = branch
                child.key = value
                branch.children[value] = child
            }
            child.count += serviceTasks
            branch = child
        }
        branch.heap.push(rank)
    }

    /// Pops the best node of the least loaded branch at every level; returns it with the branches
    /// walked (root first, leaf last).
    func popBest() -> (Rank, [SpreadBranch])? {
        var trail: [SpreadBranch] = [self]
        var branch = self
        while !branch.children.isEmpty {
            guard let next = branch.children.values.min(by: { ($0.count, $0.key) < ($1.count, $1.key) }) else { return nil }
            trail.append(next)
            branch = next
        }
        guard let best = branch.heap.popMin() else { return nil }
        return (best, trail)
    }

    /// Removes branches left without nodes, from the leaf up.
    func prune(_ trail: [SpreadBranch]) {
        var index = trail.count - 1
        while index > 0 {
            let branch = trail[index]
            guard branch.heap.isEmpty, branch.children.isEmpty else { return }
            trail[index - 1].children[branch.key] = nil
            index -= 1
        }
    }
}

/// Why a node was passed over, in filter order.
private enum Rejection: Hashable {
    case unavailable, constraints, device(String), isolation(IsolationNeed), platform, resources, ports, maxReplicas
}

/// Nodes rejected per reason, for the pending message.
private struct RejectionCounts {
    private var counts: [Rejection: Int] = [:]
    private var devices: [String] = []

    mutating func add(_ r: Rejection) {
        if case .device(let d) = r, counts[r] == nil { devices.append(d) }
        counts[r, default: 0] += 1
    }

    var reason: String {
        func nodes(_ n: Int) -> String { n == 1 ? "1 node" : "\(n) nodes" }
        var parts: [String] = []
        if let n = counts[.unavailable] { parts.append("\(nodes(n)) not available for new tasks") }
        if let n = counts[.constraints] { parts.append("scheduling constraints not satisfied on \(nodes(n))") }
        for d in devices { if let n = counts[.device(d)] { parts.append("\(nodes(n)) \(n == 1 ? "lacks" : "lack") device \(d)") } }
        for need in IsolationNeed.allCases {
            if let n = counts[.isolation(need)] { parts.append("\(nodes(n)) \(n == 1 ? "lacks" : "lack") \(need.rawValue)") }
        }
        if let n = counts[.platform] { parts.append("unsupported platform on \(nodes(n))") }
        if let n = counts[.resources] { parts.append("insufficient resources on \(nodes(n))") }
        if let n = counts[.ports] { parts.append("host-mode port already in use on \(nodes(n))") }
        if let n = counts[.maxReplicas] { parts.append("max replicas per node limit exceeded on \(nodes(n))") }
        return parts.isEmpty ? "no suitable node" : "no suitable node (\(parts.joined(separator: "; ")))"
    }
}
