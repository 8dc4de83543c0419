import PierSpec
import Foundation
import PierAPI
import Synchronization
import Testing
@testable import PierCluster

/// The index-based pass must decide exactly what the straightforward one (ReferenceReconciler)
/// decides: random clusters are driven through failures, drains, removals, scaling, updates and
/// rollbacks, and every pass's plan is compared action by action.
@Suite("Reconciler equivalence")
struct ReconcilerEquivalenceTests {
    @Test(arguments: 0..<24)
    func samePlansAsReference(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var sim = Simulation(random: &random)
        var compared = 0
        for _ in 0..<40 {
            let snapshot = sim.cluster.snapshot(shuffledWith: &random)
            let fast = Reconciler(configuration: sim.cluster.reconciler.configuration, makeID: IDs(from: sim.nextID).make)
            let reference = ReferenceReconciler(configuration: sim.cluster.reconciler.configuration, makeID: IDs(from: sim.nextID).make)
            let plan = fast.reconcile(snapshot)
            let expected = reference.reconcile(snapshot)
            #expect(Bool(plan == expected), "seed \(seed), pass \(compared): \(difference(plan, expected))")
            if plan != expected { return }
            sim.nextID += plan.created.count
            sim.cluster.apply(plan)
            compared += 1
            sim.perturb(&random)
        }
        #expect(compared == 40)
    }

    @Test func largeClusterSamePlans() {
        var random = SplitMix64(seed: 99)
        let nodes = (0..<60).map { i in
            makeNode(String(format: "n%02d", i), labels: ["zone": "z\(i % 3)"], cpus: 8, memory: 8 * gib, devices: i % 4 == 0 ? ["/dev/gpiochip0"] : [])
        }
        let services = (0..<8).map { s in
            makeService("s\(s)", mode: s == 7 ? .global : .replicated(40 + s), template: makeTemplate(
                image: "app\(s):1", preferences: s % 2 == 0 ? ["spread=node.labels.zone"] : [], maxPerNode: s == 3 ? 1 : nil,
                devices: s == 5 ? ["/dev/gpiochip0"] : [], publish: s == 6 ? ["8080:80"] : [], reserve: Resources(cpus: 0.05, memoryBytes: 1 << 20)))
        }
        var cluster = TestCluster(nodes: nodes, services: services)
        var nextID = 0
        for step in 0..<6 {
            let snapshot = cluster.snapshot(shuffledWith: &random)
            let plan = Reconciler(makeID: IDs(from: nextID).make).reconcile(snapshot)
            let expected = ReferenceReconciler(configuration: .init(), makeID: IDs(from: nextID).make).reconcile(snapshot)
            #expect(Bool(plan == expected), "step \(step): \(difference(plan, expected))")
            nextID += plan.created.count
            cluster.apply(plan)
            cluster.agentsAct()
            cluster.advance(1)
            switch step {
            case 1: cluster.alive.remove("n07"); cluster.advance(2)
            case 2: cluster.services["s1"]?.spec.task.container.image = "app1:2"; cluster.services["s1"]?.version += 1
            case 3: cluster.nodes["n10"]?.availability = .drain
            default: break
            }
        }
    }
}

/// Where two plans first differ, short enough to read in a test log.
func difference(_ plan: ReconcilePlan, _ expected: ReconcilePlan) -> String {
    func describe(_ action: ReconcileAction) -> String {
        switch action {
        case .markNodeDown(let id, _): "markNodeDown(\(id))"
        case .updateService(let s): "updateService(\(s.id) v\(s.version) \(s.updateStatus?.state.rawValue ?? "-"))"
        case .create(let t): "create(\(t.id) slot \(t.slot ?? 0) on \(t.nodeID ?? "-") \(t.status.state))"
        case .update(let t): "update(\(t.id) desired \(t.desiredState) \(t.status.state) on \(t.nodeID ?? "-"))"
        case .delete(let id): "delete(\(id))"
        }
    }
    if plan.nextWakeup != expected.nextWakeup { return "next wakeup \(String(describing: plan.nextWakeup)), expected \(String(describing: expected.nextWakeup))" }
    for (i, (a, b)) in zip(plan.actions, expected.actions).enumerated() where a != b {
        return "action \(i) is \(describe(a)), expected \(describe(b))"
    }
    return "\(plan.actions.count) actions, expected \(expected.actions.count)"
}

/// Task ids t000001, t000002, …: both reconcilers of a comparison get the same sequence.
final class IDs: Sendable {
    private let next: Mutex<Int>
    init(from start: Int) { next = Mutex(start) }
    var make: @Sendable () -> String {
        { [self] in next.withLock { $0 += 1; return String(format: "t%06d", $0) } }
    }
}

/// A small deterministic generator, so that a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension TestCluster {
    func snapshot(shuffledWith random: inout SplitMix64) -> ClusterSnapshot {
        ClusterSnapshot(nodes: nodes.values.shuffled(using: &random), services: services.values.shuffled(using: &random),
                        tasks: tasks.values.shuffled(using: &random), now: now)
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
}

/// A random small cluster and the random things that happen to it between passes.
struct Simulation {
    var cluster: TestCluster
    var nextID = 0

    init(random: inout SplitMix64) {
        let nodes = (0..<Int.random(in: 2...7, using: &random)).map { i in
            makeNode("n\(i)", labels: ["zone": "z\(i % 2)"], cpus: 2, memory: 2 * gib, devices: i % 3 == 0 ? ["/dev/gpiochip0"] : [])
        }
        var services: [Service] = []
        for s in 0..<Int.random(in: 1...4, using: &random) {
            services.append(Self.randomService("s\(s)", random: &random))
        }
        cluster = TestCluster(nodes: nodes, services: services)
        cluster.reconciler.configuration = Reconciler.Configuration(heartbeatGraceSeconds: 1.5, taskHistoryLimit: Int.random(in: 1...3, using: &random))
    }

    static func randomService(_ id: String, random: inout SplitMix64) -> Service {
        let restart = RestartPolicy(
            condition: [.any, .onFailure, .none].randomElement(using: &random) ?? .any,
            delaySeconds: [0, 0, 2].randomElement(using: &random) ?? 0,
            maxAttempts: [nil, 2].randomElement(using: &random) ?? nil, windowSeconds: [nil, 30].randomElement(using: &random) ?? nil)
        let health = Bool.random(using: &random) ? HealthCheckConfig(command: ["true"]) : nil
        let template = makeTemplate(
            image: "\(id):1", constraints: Int.random(in: 0..<5, using: &random) == 0 ? ["node.labels.zone==z1"] : [],
            preferences: Bool.random(using: &random) ? ["spread=node.labels.zone"] : [],
            maxPerNode: Int.random(in: 0..<4, using: &random) == 0 ? 2 : nil,
            devices: Int.random(in: 0..<5, using: &random) == 0 ? ["/dev/gpiochip0"] : [],
            publish: Int.random(in: 0..<5, using: &random) == 0 ? ["9000:90"] : [],
            reserve: Resources(cpus: 0.25, memoryBytes: 1 << 28), restart: restart, health: health)
        let update = UpdateConfig(
            parallelism: Int.random(in: 0...2, using: &random), delaySeconds: [0, 1].randomElement(using: &random) ?? 0,
            failureAction: UpdateConfig.FailureAction.allCases.randomElement(using: &random) ?? .pause,
            monitorSeconds: [0, 2].randomElement(using: &random) ?? 0, maxFailureRatio: [0, 0.5].randomElement(using: &random) ?? 0,
            order: Bool.random(using: &random) ? .stopFirst : .startFirst)
        let mode: ServiceMode = Int.random(in: 0..<4, using: &random) == 0 ? .global : .replicated(Int.random(in: 0...6, using: &random))
        return makeService(id, mode: mode, template: template, update: update, rollback: update)
    }

    mutating func perturb(_ random: inout SplitMix64) {
        cluster.agentsAct(health: Bool.random(using: &random) ? "healthy" : "starting")
        let live = cluster.tasks.values.filter { $0.desiredState == .running && !$0.status.state.isTerminal }.map(\.id).sorted()
        for _ in 0..<Int.random(in: 0...3, using: &random) {
            switch Int.random(in: 0..<14, using: &random) {
            case 0, 1:
                if let id = live.randomElement(using: &random) { cluster.report(id, .failed, exitCode: 1) }
            case 2:
                if let id = live.randomElement(using: &random) { cluster.report(id, .complete, exitCode: 0) }
            case 3:
                if let id = live.randomElement(using: &random) { cluster.report(id, .running, health: "unhealthy") }
            case 4:
                if let id = cluster.alive.sorted().randomElement(using: &random), cluster.alive.count > 1 { cluster.alive.remove(id) }
            case 5:
                if let id = cluster.nodes.keys.sorted().randomElement(using: &random) {
                    cluster.nodes[id]?.availability = NodeAvailability.allCases.randomElement(using: &random) ?? .active
                }
            case 6:
                if let id = cluster.nodes.keys.sorted().randomElement(using: &random), cluster.nodes.count > 1 {
                    cluster.nodes[id] = nil
                    cluster.alive.remove(id)
                }
            case 7:
                let id = "n\(cluster.nodes.count + Int.random(in: 10...99, using: &random))"
                cluster.nodes[id] = makeNode(id, labels: ["zone": "z1"], cpus: 2, memory: 2 * gib, heartbeat: cluster.now)
                cluster.alive.insert(id)
            case 8:
                if let id = cluster.services.keys.sorted().randomElement(using: &random) {
                    cluster.services[id]?.spec.mode = .replicated(Int.random(in: 0...7, using: &random))
                }
            case 9, 10:
                if let id = cluster.services.keys.sorted().randomElement(using: &random), var service = cluster.services[id] {
                    service.previousSpec = service.spec
                    service.spec.task.container.image = "\(id):\(service.version + 1)"
                    service.version += 1
                    service.updateStatus = nil
                    cluster.services[id] = service
                }
            case 11:
                if let id = cluster.services.keys.sorted().randomElement(using: &random), var service = cluster.services[id],
                   let previous = service.previousSpec {
                    service.previousSpec = service.spec
                    service.spec = previous
                    service.version += 1
                    service.updateStatus = UpdateStatus(state: .rollbackStarted, message: "manual rollback", startedAt: cluster.now)
                    cluster.services[id] = service
                }
            case 12:
                if let id = cluster.services.keys.sorted().randomElement(using: &random), cluster.services.count > 1 {
                    cluster.services[id] = nil
                }
            default:
                let id = "s\(cluster.services.count + Int.random(in: 10...99, using: &random))"
                cluster.services[id] = Self.randomService(id, random: &random)
            }
        }
        cluster.advance([0.5, 1, 3].randomElement(using: &random) ?? 1)
    }
}
