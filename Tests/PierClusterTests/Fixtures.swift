import PierSpec
import Foundation
import PierAPI
@testable import PierCluster

let t0 = Date(timeIntervalSince1970: 1_700_000_000)
let gib: Int64 = 1 << 30

func makeNode(
    _ id: String, labels: [String: String] = [:], arch: String = "arm64", cpus: Double = 4, memory: Int64 = 4 * gib,
    devices: [String] = [], state: NodeState = .ready, availability: NodeAvailability = .active, role: NodeRole = .worker,
    heartbeat: Date = t0
) -> Node {
    Node(
        id: id, role: role, availability: availability, labels: labels,
        description: NodeDescription(hostname: "host-\(id)", platform: Platform(os: "linux", architecture: arch),
                                     resources: Resources(cpus: cpus, memoryBytes: memory), devices: devices),
        state: state, lastHeartbeat: heartbeat, createdAt: t0, updatedAt: t0
    )
}

func makeTemplate(
    image: String = "sensor:1", constraints: [String] = [], preferences: [String] = [], maxPerNode: Int? = nil,
    devices: [String] = [], publish: [String] = [], network: String? = nil, reserve: Resources = .zero,
    restart: RestartPolicy = RestartPolicy(condition: .any, delaySeconds: 0), health: HealthCheckConfig? = nil,
    platforms: [Platform]? = nil
) -> TaskTemplate {
    TaskTemplate(
        container: ContainerSpec(image: image, devices: devices, network: network, publish: publish, health: health),
        placement: Placement(constraints: constraints, preferences: preferences, maxReplicasPerNode: maxPerNode),
        reservations: reserve, restartPolicy: restart, platforms: platforms
    )
}

func makeService(
    _ id: String, mode: ServiceMode = .replicated(1), template: TaskTemplate = makeTemplate(),
    update: UpdateConfig = UpdateConfig(monitorSeconds: 0), rollback: UpdateConfig = UpdateConfig(monitorSeconds: 0)
) -> Service {
    Service(id: id, spec: ServiceSpec(name: id, task: template, mode: mode, update: update, rollback: rollback), createdAt: t0, updatedAt: t0)
}

/// A task already running on a node, for scheduler tests.
func runningTask(_ id: String, service: String, on node: String, template: TaskTemplate = makeTemplate(), slot: Int? = 1) -> ClusterTask {
    var task = ClusterTask(
        id: id, serviceID: service, serviceName: service, slot: slot, nodeID: node, serviceVersion: 1,
        template: template, image: template.container.image, status: TaskStatus(state: .running, timestamp: t0), createdAt: t0
    )
    task.desiredState = .running
    return task
}

func pendingTask(_ id: String, service: String, template: TaskTemplate, slot: Int? = nil, version: Int = 1) -> ClusterTask {
    ClusterTask(
        id: id, serviceID: service, serviceName: service, slot: slot, serviceVersion: version, template: template,
        image: template.container.image, status: TaskStatus(state: .pending, timestamp: t0), createdAt: t0
    )
}

/// The manager and agents, simulated: applies plans to an in-memory store and reports statuses.
struct TestCluster {
    var nodes: [String: Node] = [:]
    var services: [String: Service] = [:]
    var tasks: [String: ClusterTask] = [:]
    var now = t0
    /// Updates do not wait for staged images here (`RollingUpdateTests` turns it on).
    var reconciler = Reconciler(configuration: .init(stageTimeoutSeconds: 0))
    /// Nodes whose agents keep sending heartbeats as time advances.
    var alive: Set<String> = []

    init(nodes: [Node], services: [Service] = []) {
        for n in nodes { self.nodes[n.id] = n; alive.insert(n.id) }
        for s in services { self.services[s.id] = s }
    }

    var snapshot: ClusterSnapshot {
        ClusterSnapshot(nodes: Array(nodes.values), services: Array(services.values), tasks: Array(tasks.values), now: now)
    }

    @discardableResult
    mutating func pass() -> ReconcilePlan {
        let plan = reconciler.reconcile(snapshot)
        for action in plan.actions {
            switch action {
            case .markNodeDown(let id, let message):
                nodes[id]?.state = .down
                nodes[id]?.message = message
            case .updateService(let s): services[s.id] = s
            case .create(let t), .update(let t): tasks[t.id] = t
            case .delete(let id): tasks[id] = nil
            }
        }
        return plan
    }

    mutating func advance(_ seconds: Double) {
        now = now.addingTimeInterval(seconds)
        for id in alive { nodes[id]?.lastHeartbeat = now }
    }

    mutating func report(_ id: String, _ state: TaskState, health: String? = nil, exitCode: Int32? = nil) {
        tasks[id]?.transition(to: TaskStatus(state: state, timestamp: now, message: state.rawValue, exitCode: exitCode))
        if let health { tasks[id]?.health = health }
    }

    /// Agents do what their assignment sets say: start what is assigned, stop what must stop.
    mutating func agentsAct(health: String? = nil) {
        for nodeID in alive {
            let set = NodeAssignment(nodeID: nodeID, tasks: tasks.values)
            for t in set.run where t.status.state != .running { report(t.id, .running, health: t.template.container.health == nil ? nil : health) }
            for t in set.stop { report(t.id, .shutdown) }
        }
    }

    /// Wanted, not ended tasks of a service.
    func live(_ serviceID: String) -> [ClusterTask] {
        tasks.values.filter { $0.serviceID == serviceID && $0.desiredState == .running && !$0.status.state.isTerminal }
            .sorted { ($0.slot ?? 0, $0.nodeID ?? "") < ($1.slot ?? 0, $1.nodeID ?? "") }
    }

    func running(_ serviceID: String) -> [ClusterTask] {
        live(serviceID).filter { $0.status.state == .running }
    }
}
