// The manager's reconcile pass at Swarm's scale: 1,000 nodes, 30 services of 1,000 replicas.
// Built and run by bench/scale.sh (release, whole-module); times `Reconciler.reconcile` alone,
// as the manager calls it, over a simulated runtime (tasks are marked running by the bench).
import Foundation
import PierAPI
import PierCluster

let nodeCount = Int(ProcessInfo.processInfo.environment["PIER_BENCH_NODES"] ?? "") ?? 1000
let serviceCount = Int(ProcessInfo.processInfo.environment["PIER_BENCH_SERVICES"] ?? "") ?? 30
let replicas = Int(ProcessInfo.processInfo.environment["PIER_BENCH_REPLICAS"] ?? "") ?? 1000
let runs = max(Int(ProcessInfo.processInfo.environment["PIER_BENCH_RUNS"] ?? "") ?? 30, 1)
let t0 = Date(timeIntervalSince1970: 1_700_000_000)
let gib: Int64 = 1 << 30

func makeNode(_ i: Int, heartbeat: Date) -> Node {
    Node(
        id: String(format: "node%04d", i), labels: ["zone": "z\(i % 10)", "rack": "r\(i % 40)"],
        description: NodeDescription(
            hostname: String(format: "gw-%04d", i), platform: Platform(os: "linux", architecture: i % 2 == 0 ? "arm64" : "aarch64"),
            resources: Resources(cpus: 64, memoryBytes: 64 * gib), devices: i % 4 == 0 ? ["/dev/gpiochip0", "/dev/ttyUSB0"] : [],
            agentVersion: "0.1.0"),
        state: .ready, lastHeartbeat: heartbeat, createdAt: t0, updatedAt: t0)
}

/// A template of the size a real service has: command, environment, labels, a health check.
func makeTemplate(_ s: Int, image: String) -> TaskTemplate {
    TaskTemplate(
        container: ContainerSpec(
            image: image, command: ["/app/server", "--listen", ":5683", "--workers", "4"],
            env: (0..<8).map { "SETTING_\($0)=value-\(s)-\($0)" }, volumes: ["/var/lib/app\(s):/data"],
            devices: s % 10 == 0 ? ["/dev/gpiochip0"] : [], memory: "64m", cpus: 0.25,
            labels: ["com.example.service": "svc\(s)", "com.example.team": "edge"]),
        placement: Placement(
            constraints: s % 5 == 1 ? ["node.platform.arch==arm64"] : [],
            preferences: s % 3 == 0 ? ["spread=node.labels.zone"] : []),
        reservations: Resources(cpus: 0.01, memoryBytes: 1 << 20),
        restartPolicy: RestartPolicy(condition: .any, delaySeconds: 5))
}

func makeService(_ s: Int) -> Service {
    let spec = ServiceSpec(
        name: "svc\(s)", labels: ["stack": "bench"], task: makeTemplate(s, image: "registry.local/app\(s)@sha256:\(String(repeating: "a", count: 64))"),
        mode: .replicated(replicas), update: UpdateConfig(parallelism: 1, monitorSeconds: 5))
    return Service(id: String(format: "svc%02d", s), spec: spec, createdAt: t0, updatedAt: t0)
}

/// The store, as the manager keeps it: dictionaries by id, plans applied in place.
struct Store {
    var nodes: [String: Node] = [:]
    var services: [String: Service] = [:]
    var tasks: [String: ClusterTask] = [:]

    func snapshot(at now: Date) -> ClusterSnapshot {
        ClusterSnapshot(nodes: Array(nodes.values), services: Array(services.values), tasks: Array(tasks.values), now: now)
    }

    mutating func apply(_ plan: ReconcilePlan) {
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
    }

    /// The simulated agents: every assigned task reports running.
    mutating func runAssigned(at now: Date) {
        for (id, task) in tasks where task.desiredState == .running && task.status.state == .assigned {
            tasks[id]?.transition(to: TaskStatus(state: .running, timestamp: now, message: "started"))
        }
    }

    mutating func heartbeat(at now: Date, except: Set<String> = []) {
        for id in nodes.keys where !except.contains(id) { nodes[id]?.lastHeartbeat = now }
    }
}

struct Row {
    var name: String
    var samples: [Duration] = []
    /// CPU time of the measuring thread: what the pass costs when the machine is shared.
    var cpu: [Duration] = []
    var actions = 0

    mutating func add(_ sample: (wall: Duration, cpu: Duration)) {
        samples.append(sample.wall)
        cpu.append(sample.cpu)
    }

    func percentile(_ p: Double, of values: [Duration]? = nil) -> Duration {
        let sorted = (values ?? samples).sorted()
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}

func ms(_ d: Duration) -> String {
    let c = d.components
    return String(format: "%8.1f", Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15)
}

func threadCPUTime() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
}

func time(_ body: () -> ReconcilePlan) -> ((wall: Duration, cpu: Duration), ReconcilePlan) {
    let clock = ContinuousClock()
    var plan = ReconcilePlan()
    let cpuStart = threadCPUTime()
    let elapsed = clock.measure { plan = body() }
    return ((elapsed, threadCPUTime() - cpuStart), plan)
}

let reconciler = Reconciler()
var base = Store()
for i in 0..<nodeCount { let n = makeNode(i, heartbeat: t0); base.nodes[n.id] = n }
for s in 0..<serviceCount { let svc = makeService(s); base.services[svc.id] = svc }

var fromEmpty = Row(name: "pass from empty (create + schedule)")
var steady = Row(name: "steady state, no change")
var nodeDown = Row(name: "steady state, 1 node fails")
var update = Row(name: "steady state, 1 service updated")
let wanted = serviceCount * replicas

print("Pier reconcile pass: \(nodeCount) nodes, \(serviceCount) services x \(replicas) replicas, \(runs) runs each")

// From empty: every run schedules the whole cluster.
var converged = base
for run in 0..<runs {
    let snapshot = base.snapshot(at: t0)
    let (elapsed, plan) = time { reconciler.reconcile(snapshot) }
    fromEmpty.add(elapsed)
    fromEmpty.actions = plan.actions.count
    let assigned = plan.created.filter { $0.status.state == .assigned }.count
    guard assigned == wanted else {
        print("error: from-empty pass assigned \(assigned) of \(wanted) tasks; the reconciler regressed"); exit(1)
    }
    if run == 0 { converged.apply(plan) }
}

// Converged: all tasks running, heartbeats fresh.
let t1 = t0.addingTimeInterval(10)
converged.runAssigned(at: t1)
converged.heartbeat(at: t1)
do {
    let snapshot = converged.snapshot(at: t1)
    for _ in 0..<runs {
        let (elapsed, plan) = time { reconciler.reconcile(snapshot) }
        steady.add(elapsed)
        steady.actions = plan.actions.count
        guard plan.isEmpty else { print("error: steady-state pass planned \(plan.actions.count) actions, expected none"); exit(1) }
    }
}

// What the manager does before each pass: an array snapshot of its dictionaries (not the reconciler's cost).
var snapshotRow = Row(name: "(manager) snapshot of 30,000 tasks")
for _ in 0..<runs {
    var snapshot = ClusterSnapshot(nodes: [], services: [], tasks: [], now: t1)
    let (elapsed, _) = time { snapshot = converged.snapshot(at: t1); return ReconcilePlan() }
    snapshotRow.add(elapsed)
    snapshotRow.actions = snapshot.tasks.count
}

// One node misses its heartbeats: it is marked down and its tasks start elsewhere.
do {
    let t2 = t1.addingTimeInterval(2)
    var store = converged
    let lost = String(format: "node%04d", nodeCount / 2)
    store.heartbeat(at: t2, except: [lost])
    let onLost = store.tasks.values.filter { $0.nodeID == lost }.count
    let snapshot = store.snapshot(at: t2)
    for _ in 0..<runs {
        let (elapsed, plan) = time { reconciler.reconcile(snapshot) }
        nodeDown.add(elapsed)
        nodeDown.actions = plan.actions.count
        let moved = plan.created.filter { $0.status.state == .assigned && $0.nodeID != lost }.count
        guard plan.downNodes == [lost], moved == onLost else {
            print("error: node-failure pass marked \(plan.downNodes) down and moved \(moved) of \(onLost) tasks"); exit(1)
        }
    }
}

// One service's image changes: the rolling update starts its first batch (parallelism 1).
do {
    var store = converged
    let id = String(format: "svc%02d", 1)
    if var service = store.services[id] {
        service.previousSpec = service.spec
        service.spec.task.container.image = "registry.local/app1@sha256:\(String(repeating: "b", count: 64))"
        service.version += 1
        store.services[id] = service
    }
    let snapshot = store.snapshot(at: t1)
    for _ in 0..<runs {
        let (elapsed, plan) = time { reconciler.reconcile(snapshot) }
        update.add(elapsed)
        update.actions = plan.actions.count
        guard plan.created.count == 1, plan.services.first?.updateStatus?.state == .updating else {
            print("error: update pass created \(plan.created.count) tasks, expected the first batch of 1"); exit(1)
        }
    }
}

print("")
print("| pass                                   | median ms |  p99 ms  |  max ms  | CPU median | CPU p99 | actions |")
print("|----------------------------------------|-----------|----------|----------|------------|---------|---------|")
for row in [fromEmpty, steady, nodeDown, update, snapshotRow] {
    let name = row.name.padding(toLength: 38, withPad: " ", startingAt: 0)
    print("| \(name) | \(ms(row.percentile(0.5)))  | \(ms(row.percentile(0.99))) | \(ms(row.samples.max() ?? .zero)) |   \(ms(row.percentile(0.5, of: row.cpu))) | \(ms(row.percentile(0.99, of: row.cpu))) | \(String(format: "%7d", row.actions)) |")
}
print("")
print("wall: ContinuousClock around Reconciler.reconcile; CPU: the thread's CPU time over the same span.")
print("The last row is the manager building a snapshot from its store (Array(tasks.values)); its count is tasks.")
print("p99 over \(runs) runs is the slowest but one in 100; with fewer than 100 runs it is the maximum.")
