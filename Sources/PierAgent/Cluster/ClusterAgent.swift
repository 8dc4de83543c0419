import Foundation
import Logging
import PierAPI
import PierCluster

/// The agent's side of cluster membership (CEMC mode): keeps a session to the manager open,
/// runs the tasks assigned to this node as containers, and reports their state. While the
/// manager is unreachable the containers keep running as last assigned (offline autonomy);
/// when the session comes back the agent reports everything and converges on the new set.
public actor ClusterAgent {
    public struct Configuration: Sendable {
        /// The node's name in the cluster (`--hostname`); several agents may share one host in tests.
        public var hostname: String
        /// Device paths advertised to the scheduler besides those found under /dev.
        public var devices: [String]
        /// How often the agent looks at its task containers for changes it was not told about
        /// (a container removed by hand). Exits and health changes are reported as they happen.
        public var pollInterval: Duration
        public init(hostname: String = ProcessInfo.processInfo.hostName, devices: [String] = [], pollInterval: Duration = .seconds(1)) {
            self.hostname = hostname; self.devices = devices; self.pollInterval = pollInterval
        }
    }

    static let taskLabel = "pier.task.id"
    static let serviceLabel = "pier.service.id"
    static let serviceNameLabel = "pier.service.name"

    let node: AgentNode
    let configuration: Configuration
    let transport: any SessionTransport
    /// Makes a pinned image present locally (pulls it from the manager's registry); nil when
    /// the node shares the manager's image store.
    let fetchImage: (@Sendable (String) async throws -> Void)?
    let logger: Logger

    private var heartbeatSeconds = 0.5
    var assigned: [String: AssignedTask] = [:]
    private var generation = -1
    private var reported: [String: TaskReport] = [:]
    private var send: (@Sendable (AgentMessage) async throws -> Void)?
    private var preparing: Set<String> = []
    private var failedToStart: [String: TaskReport] = [:]
    /// Containers of unassigned tasks being removed in the background (see `applyAssignments`).
    private var removing: Set<String> = []
    private var applyWake: AsyncStream<Void>.Continuation?
    /// `pier service logs` requests being answered (followed ones until cancelled), by request id.
    var logStreams: [String: Task<Void, Never>] = [:]
    /// Download-then-switch: the images the manager asked this node to fetch ahead of an update,
    /// those being fetched, those here, and the list last reported with `staged`.
    private var toStage: [String] = []
    private var fetchingStaged: Set<String> = []
    private var stagedHere: Set<String> = []
    private var stagedReported: [String]?
    /// The node's resolver and the directory it serves (ClusterAgent+Names.swift).
    var names = Names()

    /// Applies what the manager says to trust and refuse (nil: a node without certificates, `pier up`'s own).
    let onTrust: (@Sendable (TrustUpdate) async -> Void)?

    public init(
        node: AgentNode, configuration: Configuration, transport: any SessionTransport, fetchImage: (@Sendable (String) async throws -> Void)? = nil,
        onTrust: (@Sendable (TrustUpdate) async -> Void)? = nil
    ) {
        self.node = node
        self.configuration = configuration
        self.transport = transport
        self.fetchImage = fetchImage
        self.onTrust = onTrust
        self.logger = node.logger
    }

    var stateFile: URL { node.configuration.dataRoot.appendingPathComponent("cluster/assignments.json") }

    /// Runs until cancelled: sessions are reopened with back-off whenever they drop.
    public func run() async throws {
        loadAssignments()
        await resumeMesh()
        await startNames()
        defer { stopNames() }
        let (wakes, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        applyWake = continuation
        let applier = Task { for await _ in wakes { await self.applyAssignments() } }
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        await node.containers.onChange { changed.yield() }
        let reporter = Task { for await _ in changes { await self.reportChanges() } }
        let monitor = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.configuration.pollInterval)
                await self.reportChanges()
            }
        }
        defer { applier.cancel(); reporter.cancel(); monitor.cancel(); continuation.finish(); changed.finish() }
        continuation.yield()
        var backoff = 0.1
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await transport.withSession { channel in try await self.session(channel) }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("session with the manager ended: \(error); tasks keep running, retrying")
            }
            setSend(nil)
            if ContinuousClock.now - started > .seconds(5) { backoff = 0.1 }
            try? await Task.sleep(for: .seconds(backoff))
            backoff = min(backoff * 2, 2)
        }
    }

    private func setSend(_ s: (@Sendable (AgentMessage) async throws -> Void)?) { send = s }

    private func session(_ channel: SessionChannel) async throws {
        let reports = try await currentReports()
        try await channel.send(.hello(AgentHello(description: describe(), reports: Array(reports.values))))
        reported = reports
        stagedReported = nil
        setSend(channel.send)
        let heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(self.heartbeatSeconds))
                do { try await channel.send(.heartbeat) } catch { return }
            }
        }
        defer {
            heartbeat.cancel()
            for task in logStreams.values { task.cancel() }
            logStreams = [:]
        }
        for try await message in channel.inbound {
            switch message {
            case .welcome(let w):
                heartbeatSeconds = max(0.05, w.heartbeatSeconds)
                if let lease = w.network { await applyLease(lease) }
            case .assignments(let a):
                trace("agent: assignments received")
                // A task new to this node is about to start: let the runtime begin what overlaps
                // its preparation.
                if a.tasks.contains(where: { $0.desiredState == .running && assigned[$0.taskID] == nil }) {
                    node.containers.anticipateStart()
                }
                // One connection delivers in order; the generation only names the set in logs and on disk.
                generation = a.generation
                let (accepted, refused) = Self.check(a.tasks)
                assigned = Dictionary(accepted.map { ($0.taskID, $0) }, uniquingKeysWith: { $1 })
                saveAssignments(accepted)
                for r in refused where failedToStart[r.taskID] == nil {
                    logger.error("task \(r.taskID) refused: \(r.error ?? "")")
                    failedToStart[r.taskID] = r
                    await report(r)
                }
                applyWake?.yield()
                toStage = a.stage
                // Asked again later, an image is checked again (it may have been pruned since).
                stagedHere.formIntersection(a.stage)
                stageImages()
            case .logsRequest(let r):
                startLogs(r, send: channel.send)
            case .logsCancel(let id):
                logStreams.removeValue(forKey: id)?.cancel()
            case .trust(let update):
                await onTrust?(update)
            case .peers(let set):
                await applyPeers(set)
            case .directory(let directory):
                await applyDirectory(directory)
            }
        }
    }

    // MARK: Checking

    /// Splits assigned tasks into those this agent accepts and reports refusing the others: a
    /// task whose container fails the checks of a create (or whose ids could not name a
    /// container) is neither stored nor started, and the manager hears why.
    static func check(_ tasks: [AssignedTask]) -> (accepted: [AssignedTask], refused: [TaskReport]) {
        var accepted: [AssignedTask] = []
        var refused: [TaskReport] = []
        for task in tasks {
            if let problem = problem(with: task) {
                refused.append(TaskReport(taskID: task.taskID, state: .rejected, message: "refused by the agent", error: problem))
            } else {
                accepted.append(task)
            }
        }
        return (accepted, refused)
    }

    static func problem(with task: AssignedTask) -> String? {
        guard !task.taskID.isEmpty, task.taskID.count <= 128 else { return "task id of \(task.taskID.count) characters (1…128)" }
        guard !task.image.isEmpty else { return "task \(task.taskID) has no image" }
        var request = task.template.container
        request.image = task.image
        request.name = task.containerName
        request.restart = nil
        request.autoRemove = false
        do { try ContainerManager.check(request) } catch { return "task \(task.taskID): \(error)" }
        return nil
    }

    // MARK: Converging

    /// Starts what is assigned and missing, stops what must stop, removes task containers
    /// that are no longer assigned.
    func applyAssignments() async {
        trace("agent: applying assignments")
        let containers: [ContainerSummary]
        do { containers = try await node.containers.list(all: true) } catch {
            logger.error("cannot list containers: \(error)")
            return
        }
        var byTask: [String: ContainerSummary] = [:]
        // A container set aside is left as it is, whatever the assignments say.
        for c in containers where c.invalid == nil { if let t = c.labels[Self.taskLabel] { byTask[t] = c } }
        // Containers of tasks no longer assigned: running ones go first (they may hold a port or
        // a device a new task needs); exited ones after the starts, which need not wait for them.
        let unassigned = byTask.filter { assigned[$0.key] == nil }
        func remove(_ entries: [(key: String, value: ContainerSummary)]) async {
            for (taskID, c) in entries {
                do { try await node.containers.remove(c.id, force: true) } catch {
                    logger.warning("cannot remove container \(c.name) of unassigned task \(taskID): \(error)")
                }
            }
        }
        let unassignedRunning = unassigned.filter { $0.value.state == .running || $0.value.state == .restarting }
        // Stops first and all at once (each may wait out its grace period: the stop signal, then
        // SIGKILL after 10 s, as Swarm does), so a stop-first update, a drain or a removed service
        // frees the node quickly; then the starts, in task order.
        let stopping = assigned.values.compactMap { task -> ContainerSummary? in
            guard task.desiredState != .running, let c = byTask[task.taskID], c.state == .running || c.state == .restarting else { return nil }
            return c
        } + unassignedRunning.map(\.value)
        if !stopping.isEmpty {
            let containers = node.containers
            let logger = self.logger
            await withTaskGroup(of: Void.self) { group in
                for c in stopping {
                    group.addTask {
                        do { try await containers.stop(c.id, timeout: 10) } catch {
                            logger.warning("cannot stop \(c.name): \(error)")
                        }
                    }
                }
            }
        }
        // The containers of tasks no longer assigned go once stopped.
        await remove(Array(unassignedRunning))
        for task in assigned.values.sorted(by: { $0.taskID < $1.taskID }) where task.desiredState == .running {
            guard byTask[task.taskID] == nil, failedToStart[task.taskID] == nil else { continue }
            await start(task)
        }
        await reportChanges()
        // Exited containers of unassigned tasks go in the background: their teardown (network,
        // mounts, ~30 ms) must not hold up the next assignment, which would otherwise wait for it.
        let exited = unassigned.filter { $0.value.state != .running && $0.value.state != .restarting && !removing.contains($0.value.id) }
        guard !exited.isEmpty else { return }
        for (_, c) in exited { removing.insert(c.id) }
        Task {
            await remove(Array(exited))
            self.finishedRemoving(exited.map(\.value.id))
        }
    }

    private func finishedRemoving(_ ids: [String]) { removing.subtract(ids) }

    // MARK: Staging

    /// Fetches the images of `toStage` this node lacks, in the background (the tasks keep
    /// running meanwhile), and reports which it holds. A failed fetch is tried again after 5 s
    /// while the manager still asks for it.
    private func stageImages() {
        for image in toStage where !fetchingStaged.contains(image) && !stagedHere.contains(image) {
            fetchingStaged.insert(image)
            Task {
                do {
                    if let fetch = self.fetchImage { try await fetch(image) }
                    await self.finishedStaging(image, error: nil)
                } catch {
                    await self.finishedStaging(image, error: error)
                }
            }
        }
        Task { await self.reportStaged() }
    }

    private func finishedStaging(_ image: String, error: (any Error)?) async {
        if let error {
            logger.warning("cannot stage \(image) ahead of an update: \(error); trying again in 5 s")
            try? await Task.sleep(for: .seconds(5))
        } else {
            logger.info("staged \(image) ahead of an update")
            stagedHere.insert(image)
        }
        fetchingStaged.remove(image)
        if error != nil, toStage.contains(image) { stageImages() }
        await reportStaged()
    }

    private func reportStaged() async {
        let held = toStage.filter { stagedHere.contains($0) }
        guard held != stagedReported, let send else { return }
        if (try? await send(.staged(held))) != nil { stagedReported = held }
    }

    private func start(_ task: AssignedTask) async {
        preparing.insert(task.taskID)
        defer { preparing.remove(task.taskID) }
        await report(TaskReport(taskID: task.taskID, state: .preparing, message: "preparing"))
        var request = task.template.container
        request.image = task.image
        request.name = task.containerName
        request.restart = nil
        request.autoRemove = false
        request.labels[Self.taskLabel] = task.taskID
        request.labels[Self.serviceLabel] = task.serviceID
        request.labels[Self.serviceNameLabel] = task.serviceName
        do {
            if let fetch = fetchImage { try await fetch(task.image) }
            let record = try await node.containers.create(request)
            await report(TaskReport(taskID: task.taskID, state: .starting, message: "starting", containerID: record.id))
            try await node.containers.startNew(record.id)
        } catch {
            let r = TaskReport(taskID: task.taskID, state: .rejected, message: "could not start", error: "\(error)")
            failedToStart[task.taskID] = r
            await report(r)
        }
    }

    // MARK: Reporting

    /// Sends the reports that changed since the last ones sent.
    func reportChanges() async {
        guard let current = try? await currentReports() else { return }
        await refreshNames()
        var changed: [TaskReport] = []
        for (id, r) in current {
            let old = reported[id]
            if old?.state != r.state || old?.health != r.health || old?.exitCode != r.exitCode || old?.address != r.address { changed.append(r) }
        }
        guard !changed.isEmpty, let send else { return }
        do {
            try await send(.status(changed))
            for r in changed { reported[r.taskID] = r }
        } catch {}
    }

    private func report(_ r: TaskReport) async {
        guard let send else { return }
        if (try? await send(.status([r]))) != nil { reported[r.taskID] = r }
    }

    /// The state of every task this node holds, from its containers.
    func currentReports() async throws -> [String: TaskReport] {
        var out: [String: TaskReport] = failedToStart
        let addresses = try await node.containers.addresses()
        for c in try await node.containers.list(all: true) where c.invalid == nil {
            guard let taskID = c.labels[Self.taskLabel] else { continue }
            let shuttingDown = assigned[taskID]?.desiredState == .shutdown
            let health = c.health == .none ? nil : c.health.rawValue
            switch c.state {
            case .running, .restarting:
                out[taskID] = TaskReport(
                    taskID: taskID, state: .running, message: "started", containerID: c.id, health: health, timestamp: c.startedAt ?? Date(),
                    address: addresses[c.id])
            case .created:
                if preparing.contains(taskID) { continue }
                out[taskID] = TaskReport(taskID: taskID, state: .starting, message: "starting", containerID: c.id)
            case .exited, .dead:
                let code = c.exitCode ?? -1
                let state: TaskState = shuttingDown ? .shutdown : (code == 0 ? .complete : .failed)
                out[taskID] = TaskReport(
                    taskID: taskID, state: state, message: state == .shutdown ? "shutdown" : "finished",
                    error: state == .failed ? "task: non-zero exit (\(code))" : nil, containerID: c.id, exitCode: code,
                    health: health, timestamp: c.finishedAt ?? Date())
            }
        }
        return out
    }

    func describe() -> NodeDescription {
        let fm = FileManager.default
        var devices = Set(configuration.devices)
        let prefixes = ["gpiochip", "ttyUSB", "ttyACM", "ttyAMA", "i2c-", "spidev", "video"]
        for name in (try? fm.contentsOfDirectory(atPath: "/dev")) ?? [] where prefixes.contains(where: name.hasPrefix) {
            devices.insert("/dev/" + name)
        }
        return NodeDescription(
            hostname: configuration.hostname,
            platform: Platform(os: "linux", architecture: Agent.architecture),
            resources: Resources(cpus: Double(ProcessInfo.processInfo.activeProcessorCount), memoryBytes: Int64(ProcessInfo.processInfo.physicalMemory)),
            devices: devices.sorted(), agentVersion: Agent.version, isolation: node.runtime.isolation, network: node.mesh.report())
    }

    // MARK: Persistence

    /// The last assignment set, kept so a restarted agent knows its tasks before the manager answers.
    private func saveAssignments(_ tasks: [AssignedTask]) {
        do {
            let dir = stateFile.deletingLastPathComponent()
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let data = try JSONEncoder().encode(Assignments(generation: generation, tasks: tasks))
            try data.write(to: stateFile, options: .atomic)
        } catch {
            logger.warning("cannot save assignments: \(error)")
        }
    }

    private func loadAssignments() {
        let decoder = JSONDecoder()
        guard let data = try? Data(contentsOf: stateFile), let a = try? decoder.decode(Assignments.self, from: data) else { return }
        // Checked again: a file written by an older agent, or changed by hand, may hold anything.
        let (accepted, refused) = Self.check(a.tasks)
        for r in refused { logger.error("stored task \(r.taskID) set aside: \(r.error ?? "")") }
        assigned = Dictionary(accepted.map { ($0.taskID, $0) }, uniquingKeysWith: { $1 })
    }
}
