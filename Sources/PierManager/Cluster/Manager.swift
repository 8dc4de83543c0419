import PierSpec
import Foundation
import Logging
import PierAPI
import PierCluster

/// The Edge Manager's core: the cluster state in memory, written through a `StateStore`
/// before it changes, the reconcile loop that applies `Reconciler`'s decisions, and the
/// sessions of connected agents, to which it sends each node's assignments.
public actor Manager {
    public struct Configuration: Sendable {
        /// How often agents send a heartbeat.
        public var heartbeatSeconds: Double = 0.5
        /// A node whose last heartbeat is older than this is down (detection ≤ 2 s).
        public var heartbeatGrace: Double = 1.5
        /// Terminal tasks kept per slot, for `service ps`.
        public var taskHistoryLimit: Int = 5
        /// How long an update that changes the image waits for nodes to stage it (download-then-switch).
        public var stageTimeout: Double = 600
        /// The cluster range node subnets come from, and the mesh's data path (Manager+Network.swift).
        public var network = ClusterNetworkSettings()
        public init() {}
    }

    public let configuration: Configuration
    let store: any StateStore
    let logger: Logger
    /// Resolves a service's image reference to a pinned `name@sha256:…` in the manager's store.
    let resolveImage: @Sendable (String) async throws -> String

    var nodes: [String: Node] = [:]
    var services: [String: Service] = [:]
    var tasks: [String: ClusterTask] = [:]
    var meta: [String: String] = [:]
    /// Stored services that fail the checks of a create or cannot be read, by id: listed with the
    /// reason; the reconciler never sees them or their tasks, whose containers keep running.
    var setAsideServices: [String: Service] = [:]
    /// Stored tasks and nodes that cannot be used, with the reason.
    var setAsideRecords: [SetAsideRecord] = []

    struct Session {
        let token: UUID
        let send: @Sendable (ManagerMessage) async -> Void
        let close: @Sendable () -> Void
        var lastSent: [AssignedTask]?
        var lastStaged: [String]? = nil
        var lastPeers: PeerSet? = nil
        var lastDirectory: ServiceDirectory? = nil
    }
    var sessions: [String: Session] = [:]
    /// `pier service logs` streams being relayed from agents, by request id (Manager+Logs.swift).
    var logRelays: [String: LogRelay] = [:]
    var generation = 0
    var wakeup: AsyncStream<Void>.Continuation?
    var dirty = true
    /// When the reconciler next has something due (a restart delay, a heartbeat deadline).
    var nextPass: Date?
    let reconciler: Reconciler
    /// Called after every committed change (the CoAP interface's observe notifications).
    var changeObservers: [@Sendable () -> Void] = []
    /// The roots and revocations every node must have (``Membership``), sent after `welcome`.
    var trust: TrustUpdate?
    /// The last mesh plan and what it was made from (Manager+Network.swift).
    var meshCache: MeshCache?
    /// The service directory of the state last committed (Manager+Directory.swift); nil once a
    /// commit may have changed it.
    var directoryCache: ServiceDirectory?

    public init(store: any StateStore, configuration: Configuration = Configuration(), logger: Logger = Logger(label: "pier.manager"),
                resolveImage: @escaping @Sendable (String) async throws -> String) async throws {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        self.resolveImage = resolveImage
        self.reconciler = Reconciler(configuration: .init(
            heartbeatGraceSeconds: configuration.heartbeatGrace, taskHistoryLimit: configuration.taskHistoryLimit,
            stageTimeoutSeconds: configuration.stageTimeout))
        let state = try await store.load()
        let now = Date()
        for var node in state.nodes {
            // Every node gets the whole grace period from our start to reconnect.
            node.lastHeartbeat = now
            nodes[node.id] = node
        }
        for s in state.services {
            if let problem = Self.problem(with: s) { setAside(s, reason: problem) } else { services[s.id] = s }
        }
        for t in state.tasks {
            if let problem = Self.problem(with: t) {
                setAsideRecords.append(SetAsideRecord(kind: "task", id: t.id, name: t.serviceName, reason: problem))
            } else {
                tasks[t.id] = t
            }
        }
        for r in state.setAside {
            if r.kind == "service" {
                // What is readable of it, so that it is listed and `service rm` can remove it.
                let placeholder = ServiceSpec(name: r.name ?? r.id, task: TaskTemplate(container: ContainerSpec(image: "")), mode: .replicated(0))
                setAside(Service(id: r.id, spec: placeholder), reason: r.reason)
            } else {
                setAsideRecords.append(r)
            }
        }
        for r in setAsideRecords {
            logger.error("stored \(r.kind) set aside", metadata: ["id": "\(r.id)", "reason": "\(r.reason)"])
        }
        meta = state.meta
        if meta["clusterID"] == nil {
            var changes = ChangeSet()
            changes.meta["clusterID"] = Identifiers.make()
            try commit(changes)
        }
        try prepareNetwork()
    }

    public var clusterID: String { meta["clusterID"] ?? "" }

    private func setAside(_ service: Service, reason: String) {
        var service = service
        service.invalid = reason
        setAsideServices[service.id] = service
        logger.error("stored service set aside", metadata: ["id": "\(service.id)", "name": "\(service.spec.name)", "reason": "\(reason)"])
    }

    /// Why a stored service cannot be used, or nil: the checks of a create.
    static func problem(with service: Service) -> String? {
        do { try validate(service.spec) } catch { return "\(error)" }
        guard service.version >= 0 else { return "version \(service.version) is negative" }
        return nil
    }

    /// Why a stored task cannot be used, or nil: its slot and the checks its template would
    /// get in a service spec.
    static func problem(with task: ClusterTask) -> String? {
        if let slot = task.slot, !(0...ServiceSpec.maxReplicas).contains(slot) {
            return "slot \(slot) is outside 0…\(ServiceSpec.maxReplicas)"
        }
        do { try validate(ServiceSpec(name: task.serviceName, task: task.template)) } catch { return "\(error)" }
        return nil
    }

    /// What needs attention: stored records set aside.
    func notices() -> [String]? {
        let services = setAsideServices.values.sorted { $0.spec.name < $1.spec.name }.map { "service \($0.spec.name) set aside: \($0.invalid ?? "")" }
        let others = setAsideRecords.map { "\($0.kind) \($0.id) set aside: \($0.reason)" }
        let all = services + others
        return all.isEmpty ? nil : all
    }

    // MARK: Writing

    /// Writes the changes, then applies them in memory. A failed write changes nothing.
    func commit(_ changes: ChangeSet) throws {
        guard !changes.isEmpty else { return }
        try store.commit(changes)
        for id in changes.deletedTasks { tasks[id] = nil }
        for id in changes.deletedServices { services[id] = nil }
        for id in changes.deletedNodes { nodes[id] = nil }
        for key in changes.deletedMeta { meta[key] = nil }
        for n in changes.nodes {
            var n = n
            // Heartbeat times live in memory only; don't let a stored copy move them back.
            if let live = nodes[n.id]?.lastHeartbeat, (n.lastHeartbeat ?? .distantPast) < live { n.lastHeartbeat = live }
            nodes[n.id] = n
        }
        for s in changes.services { services[s.id] = s }
        for t in changes.tasks { tasks[t.id] = t }
        for (k, v) in changes.meta { meta[k] = v }
        directoryCache = nil
        dirty = true
        wakeup?.yield()
        for observer in changeObservers { observer() }
    }

    /// Registers `observer` to be called after every committed change.
    public func onChange(_ observer: @escaping @Sendable () -> Void) { changeObservers.append(observer) }

    func requestReconcile() {
        dirty = true
        wakeup?.yield()
    }

    // MARK: The loop

    /// Reconciles whenever something changed or something is due, and sends assignments,
    /// until the task is cancelled.
    public func run() async {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        wakeup = continuation
        let ticker = Task { [heartbeat = configuration.heartbeatSeconds] in
            // Heartbeat deadlines are checked at least this often even when nothing else is due.
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(heartbeat / 2))
                continuation.yield()
            }
        }
        defer { ticker.cancel(); continuation.finish() }
        continuation.yield()
        for await _ in stream {
            if Task.isCancelled { break }
            do { try reconcilePass() } catch {
                logger.error("reconcile failed: \(error)")
            }
            trace("manager: reconciled")
            await pushAssignments()
            await pushPeers()
            await pushDirectory()
        }
    }

    // MARK: Sessions

    /// An agent's session opened: records its description and reports, answers with the welcome,
    /// and sends its assignments. A second session for the same node replaces the first.
    public func attach(nodeID: String, address: String?, hello: AgentHello,
                       send: @escaping @Sendable (ManagerMessage) async -> Void, close: @escaping @Sendable () -> Void = {}) async throws -> UUID {
        guard var node = nodes[nodeID] else {
            throw ManagerError.unauthorized("node \(nodeID) is not a member of this cluster (removed?); join it again with a new token")
        }
        node.description = hello.description
        node.address = address
        node.lastHeartbeat = Date()
        node.state = .ready
        node.message = nil
        node.updatedAt = Date()
        var changes = ChangeSet()
        let lease = try joinNetwork(&node, changes: &changes)
        let token = UUID()
        sessions[nodeID]?.close()
        sessions[nodeID] = Session(token: token, send: send, close: close, lastSent: nil)
        changes.nodes.append(node)
        changes.tasks = reportChanges(nodeID: nodeID, reports: hello.reports)
        try commit(changes)
        await send(.welcome(Welcome(nodeID: nodeID, heartbeatSeconds: configuration.heartbeatSeconds, network: lease)))
        if let trust { await send(.trust(trust)) }
        await pushPeers()
        await pushDirectory()
        logger.info("node \(nodeID) (\(hello.description.hostname)) connected", metadata: ["address": "\(address ?? "local")"])
        return token
    }

    public func receive(nodeID: String, _ message: AgentMessage) async throws {
        switch message {
        case .hello:
            throw ManagerError.invalid("hello sent twice on one session")
        case .heartbeat:
            guard var node = nodes[nodeID] else { return }
            node.lastHeartbeat = Date()
            if node.state != .ready {
                node.state = .ready
                node.message = nil
                var changes = ChangeSet()
                changes.nodes.append(node)
                try commit(changes)
            } else {
                nodes[nodeID] = node
            }
        case .status(let reports):
            var changes = ChangeSet()
            changes.tasks = reportChanges(nodeID: nodeID, reports: reports)
            try commit(changes)
        case .logs(let chunk):
            relayLogs(chunk, from: nodeID)
        case .staged(let images):
            guard var node = nodes[nodeID], node.stagedImages ?? [] != images.sorted() else { return }
            node.stagedImages = images.isEmpty ? nil : images.sorted()
            node.updatedAt = Date()
            var changes = ChangeSet()
            changes.nodes.append(node)
            try commit(changes)
        }
    }

    /// Sets what nodes must trust and refuse, and sends it to every connected node.
    func setTrust(_ update: TrustUpdate) async {
        guard update != trust else { return }
        trust = update
        for session in sessions.values { await session.send(.trust(update)) }
    }

    public func detach(nodeID: String, token: UUID) {
        guard sessions[nodeID]?.token == token else { return }
        sessions[nodeID] = nil
        logsLost(nodeID: nodeID)
        logger.info("node \(nodeID) disconnected")
    }

    /// Task updates for the reports of one node. Reports about tasks the node does not hold
    /// (deleted, or moved away while it was cut off) are ignored: its assignments tell it to stop them.
    func reportChanges(nodeID: String, reports: [TaskReport]) -> [ClusterTask] {
        var updated: [ClusterTask] = []
        for report in reports {
            guard var task = tasks[report.taskID], task.nodeID == nodeID else { continue }
            // A terminal task never comes back to life.
            guard !task.status.state.isTerminal else { continue }
            var changed = false
            if report.state != task.status.state || report.exitCode != task.status.exitCode || report.error != task.status.error {
                task.transition(to: TaskStatus(
                    state: report.state, timestamp: report.timestamp, message: report.message, error: report.error,
                    containerID: report.containerID ?? task.status.containerID, exitCode: report.exitCode))
                changed = true
            }
            if report.health != task.health {
                task.health = report.health
                changed = true
            }
            if report.address != task.address {
                task.address = report.address
                changed = true
            }
            if changed { updated.append(task) }
        }
        return updated
    }

    /// What one node must run or stop. Stops come first, so an agent frees ports and
    /// resources before it starts replacements (stop-first updates rely on it).
    func assignments(for nodeID: String) -> [AssignedTask] {
        let a = NodeAssignment(nodeID: nodeID, tasks: tasks.values)
        let stops = a.stop.map { task in
            var t = AssignedTask(task)
            t.desiredState = .shutdown
            return t
        }
        return stops + a.run.map(AssignedTask.init)
    }

    func pushAssignments() async {
        for (nodeID, session) in sessions {
            let set = assignments(for: nodeID)
            let stage = NodeAssignment.stage(nodeID: nodeID, tasks: tasks.values, services: services)
            guard set != session.lastSent || stage != session.lastStaged else { continue }
            generation += 1
            sessions[nodeID]?.lastSent = set
            sessions[nodeID]?.lastStaged = stage
            trace("manager: assignments sent")
            await session.send(.assignments(Assignments(generation: generation, tasks: set, stage: stage)))
        }
    }
}
