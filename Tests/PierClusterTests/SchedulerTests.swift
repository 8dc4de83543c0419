import PierAPI
import Testing
@testable import PierCluster

@Suite("Scheduler")
struct SchedulerTests {
    func place(_ template: TaskTemplate, count: Int = 1, nodes: [Node], existing: [ClusterTask] = [], service: String = "svc") -> [SchedulingOutcome] {
        var scheduler = Scheduler(nodes: nodes, tasks: existing)
        let tasks = (1...count).map { pendingTask("t\($0)", service: service, template: template, slot: $0) }
        return scheduler.schedule(tasks)
    }

    @Test func devicesPlaceGPIOServicesWhereTheChipIs() {
        let nodes = [makeNode("a"), makeNode("b", devices: ["/dev/gpiochip0"]), makeNode("c"), makeNode("d", devices: ["/dev/gpiochip0"], availability: .drain)]
        let gpio = makeTemplate(devices: ["/dev/gpiochip0:/dev/gpiochip0:rw"])
        #expect(place(gpio, nodes: nodes) == [.assigned(nodeID: "b")])
        let none = place(gpio, nodes: nodes.filter { $0.id != "b" })
        #expect(none == [.pending(reason: "no suitable node (1 node not available for new tasks; 2 nodes lack device /dev/gpiochip0)")])
    }

    @Test func eachFilterNamesItsReason() {
        let constrained = makeTemplate(constraints: ["node.labels.zone==b"])
        #expect(place(constrained, nodes: [makeNode("a", labels: ["zone": "a"]), makeNode("x", state: .down)])
            == [.pending(reason: "no suitable node (1 node not available for new tasks; scheduling constraints not satisfied on 1 node)")])
        let amd = makeTemplate(platforms: [Platform(os: "linux", architecture: "amd64")])
        #expect(place(amd, nodes: [makeNode("a"), makeNode("b", arch: "x86_64")]) == [.assigned(nodeID: "b")])
        #expect(place(amd, nodes: [makeNode("a")]) == [.pending(reason: "no suitable node (unsupported platform on 1 node)")])
        #expect(place(makeTemplate(), nodes: []) == [.pending(reason: "no suitable node (no nodes in the cluster)")])
    }

    @Test func reservationsCountExistingAndBatchTasks() {
        let half = makeTemplate(reserve: Resources(cpus: 1, memoryBytes: gib))
        let nodes = [makeNode("a", cpus: 2, memory: 2 * gib)]
        let existing = [runningTask("old", service: "other", on: "a", template: half)]
        let outcomes = place(half, count: 2, nodes: nodes, existing: existing)
        #expect(outcomes == [.assigned(nodeID: "a"), .pending(reason: "no suitable node (insufficient resources on 1 node)")])
        // A task being shut down frees its reservation.
        var leaving = existing[0]
        leaving.desiredState = .shutdown
        #expect(place(half, count: 2, nodes: nodes, existing: [leaving]).allSatisfy { $0.nodeID == "a" })
    }

    @Test func publishedPortsConflictPerNodeAndProtocol() {
        let web = makeTemplate(publish: ["8080:80"])
        let nodes = [makeNode("a"), makeNode("b")]
        let outcomes = place(web, count: 3, nodes: nodes)
        #expect(Set(outcomes.prefix(2).compactMap(\.nodeID)) == ["a", "b"])
        #expect(outcomes[2] == .pending(reason: "no suitable node (host-mode port already in use on 2 nodes)"))
        // udp 8080 does not clash with tcp 8080; a host-network task's ports do clash.
        let existing = [runningTask("h", service: "host", on: "a", template: makeTemplate(publish: ["8080:8080"], network: "host"))]
        #expect(place(makeTemplate(publish: ["8080:80/udp"]), nodes: [makeNode("a")], existing: existing) == [.assigned(nodeID: "a")])
        #expect(place(web, nodes: [makeNode("a")], existing: existing) == [.pending(reason: "no suitable node (host-mode port already in use on 1 node)")])
    }

    @Test func maxReplicasPerNode() {
        let capped = makeTemplate(maxPerNode: 2)
        let outcomes = place(capped, count: 5, nodes: [makeNode("a"), makeNode("b")])
        #expect(outcomes.compactMap(\.nodeID).sorted() == ["a", "a", "b", "b"])
        #expect(outcomes[4] == .pending(reason: "no suitable node (max replicas per node limit exceeded on 2 nodes)"))
    }

    @Test func spreadsOverZonesThenNodes() {
        // Zone a has 3 nodes, zone b one: spreading gives each zone half the tasks.
        let nodes = [makeNode("a1", labels: ["zone": "a"]), makeNode("a2", labels: ["zone": "a"]), makeNode("a3", labels: ["zone": "a"]),
                     makeNode("b1", labels: ["zone": "b"])]
        let outcomes = place(makeTemplate(preferences: ["spread=node.labels.zone"]), count: 6, nodes: nodes)
        let ids = outcomes.compactMap(\.nodeID)
        #expect(ids.count == 6)
        #expect(ids.filter { $0 == "b1" }.count == 3)
        #expect(Set(ids.filter { $0.hasPrefix("a") }) == ["a1", "a2", "a3"])
        // Without the preference, tasks go evenly over nodes.
        let even = place(makeTemplate(), count: 8, nodes: nodes).compactMap(\.nodeID)
        #expect(Dictionary(grouping: even, by: { $0 }).values.allSatisfy { $0.count == 2 })
    }

    @Test func ranksFewestServiceTasksThenTotalThenID() {
        let nodes = [makeNode("a"), makeNode("b"), makeNode("c")]
        let existing = [runningTask("x1", service: "svc", on: "a"), runningTask("y1", service: "other", on: "b")]
        #expect(place(makeTemplate(), nodes: nodes, existing: existing) == [.assigned(nodeID: "c")])
        let busy = existing + [runningTask("y2", service: "other", on: "c")]
        #expect(place(makeTemplate(), nodes: nodes, existing: busy) == [.assigned(nodeID: "b")])
    }

    @Test func pinnedTasksAreCheckedOnTheirNodeOnly() {
        var scheduler = Scheduler(nodes: [makeNode("a"), makeNode("b", devices: ["/dev/ttyUSB0"])], tasks: [])
        var task = pendingTask("g", service: "glob", template: makeTemplate(devices: ["/dev/ttyUSB0"]))
        task.nodeID = "a"
        #expect(scheduler.schedule([task]) == [.pending(reason: "no suitable node (1 node lacks device /dev/ttyUSB0)")])
        task.nodeID = "b"
        #expect(scheduler.schedule([task]) == [.assigned(nodeID: "b")])
    }
}

@Suite("Scheduler: isolation a task needs")
struct SchedulerIsolationTests {
    func node(_ id: String, appArmor: Bool, initBinary: String? = nil) -> Node {
        var n = makeNode(id)
        n.description.isolation = NodeIsolation(
            seccomp: true, cgroupNamespace: true, appArmor: appArmor, appArmorProfile: appArmor ? "pier-default" : nil,
            architectures: ["aarch64", "arm"], kernel: "6.18", initBinary: initBinary, defaultPidsLimit: 4096)
        return n
    }

    @Test func appArmorProfileGoesOnlyWhereTheKernelHasIt() {
        var template = makeTemplate()
        template.container.securityOpt = ["apparmor=pier-strict"]
        var scheduler = Scheduler(nodes: [node("a", appArmor: false), node("b", appArmor: true)], tasks: [])
        #expect(scheduler.schedule([pendingTask("t", service: "s", template: template)]) == [.assigned(nodeID: "b")])
        var none = Scheduler(nodes: [node("a", appArmor: false), makeNode("c")], tasks: [])
        #expect(none.schedule([pendingTask("t", service: "s", template: template)]) == [.pending(reason: "no suitable node (2 nodes lack AppArmor)")])
        template.container.securityOpt = ["apparmor=unconfined", "seccomp=unconfined"]
        #expect(none.schedule([pendingTask("t2", service: "s", template: template)]).first?.nodeID != nil)
    }

    @Test func initNeedsTiniOnTheNode() {
        var template = makeTemplate()
        template.container.initProcess = true
        var scheduler = Scheduler(nodes: [node("a", appArmor: false), node("b", appArmor: false, initBinary: "/usr/bin/tini-static")], tasks: [])
        #expect(scheduler.schedule([pendingTask("t", service: "s", template: template)]) == [.assigned(nodeID: "b")])
        var none = Scheduler(nodes: [node("a", appArmor: false)], tasks: [])
        #expect(none.schedule([pendingTask("t", service: "s", template: template)]) == [.pending(reason: "no suitable node (1 node lacks an init binary (tini) for --init)")])
    }

    func remapping(_ id: String, defaultMode: String, range: Bool = true, layers: String = "idmapped") -> Node {
        var n = node(id, appArmor: false)
        n.description.isolation?.userns = NodeUserns(
            defaultMode: defaultMode, range: range ? "uid 100000-165535, gid 100000-165535" : nil,
            problem: range ? nil : "--userns remap: /etc/subuid entry pier:0:10 is unusable", layers: layers)
        return n
    }

    @Test func usernsRemapGoesWhereARangeIsUsableAndVolumesWhereMountsIdmap() {
        var template = makeTemplate()
        template.container.userns = "remap"
        let nodes = [node("old", appArmor: false), remapping("broken", defaultMode: "host", range: false), remapping("ok", defaultMode: "host")]
        var scheduler = Scheduler(nodes: nodes, tasks: [])
        #expect(scheduler.schedule([pendingTask("t", service: "s", template: template)]) == [.assigned(nodeID: "ok")])
        var none = Scheduler(nodes: Array(nodes.prefix(2)), tasks: [])
        #expect(none.schedule([pendingTask("t", service: "s", template: template)]) == [
            .pending(reason: "no suitable node (2 nodes lack a usable pier subuid/subgid range for --userns remap)")
        ])
        template.container.volumes = ["/srv/data:/data"]
        var copies = Scheduler(nodes: [remapping("copies", defaultMode: "host", layers: "chowned-copy")], tasks: [])
        #expect(copies.schedule([pendingTask("t", service: "s", template: template)]) == [
            .pending(reason: "no suitable node (1 node lacks idmapped mounts for volumes under --userns remap)")
        ])
    }

    @Test func privilegedWithoutUsernsAvoidsNodesThatRemapByDefault() {
        var template = makeTemplate()
        template.container.privileged = true
        var scheduler = Scheduler(nodes: [remapping("r", defaultMode: "remap"), remapping("h", defaultMode: "host")], tasks: [])
        #expect(scheduler.schedule([pendingTask("t", service: "s", template: template)]) == [.assigned(nodeID: "h")])
        var none = Scheduler(nodes: [remapping("r", defaultMode: "remap")], tasks: [])
        #expect(none.schedule([pendingTask("t", service: "s", template: template)]) == [
            .pending(reason: "no suitable node (1 node lacks the host's user namespace by default (give the service --userns host))")
        ])
        template.container.userns = "host"
        #expect(none.schedule([pendingTask("t2", service: "s", template: template)]) == [.assigned(nodeID: "r")])
    }
}
