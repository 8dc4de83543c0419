import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierClient

@Suite("Cluster listings: services, tasks, nodes, stacks, join tokens")
struct ClusterListingTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func node(_ id: String, _ hostname: String, state: NodeState = .ready, availability: NodeAvailability = .active,
                     arch: String = "arm64", role: NodeRole = .worker) -> Node {
        Node(id: id, role: role, availability: availability,
             description: NodeDescription(hostname: hostname, platform: Platform(os: "linux", architecture: arch), resources: Resources(cpus: 4, memoryBytes: 1 << 30)),
             state: state, createdAt: now, updatedAt: now)
    }

    static func service(_ id: String, _ name: String, mode: ServiceMode, image: String = "sensor:1.0@sha256:abcd", publish: [String] = [], maxPerNode: Int? = nil) -> Service {
        var c = ContainerSpec(image: image)
        c.publish = publish
        return Service(id: id, spec: ServiceSpec(name: name, task: TaskTemplate(container: c, placement: Placement(maxReplicasPerNode: maxPerNode)), mode: mode),
                       createdAt: now, updatedAt: now)
    }

    static func task(_ id: String, service: Service, slot: Int?, node: String?, state: TaskState, desired: TaskState = .running,
                     secondsAgo: Double, created: Double, error: String? = nil, message: String = "") -> ClusterTask {
        var t = ClusterTask(id: id, serviceID: service.id, serviceName: service.spec.name, slot: slot, nodeID: node, serviceVersion: 1,
                            template: service.spec.task, image: service.spec.task.container.image, desiredState: desired,
                            status: TaskStatus(state: .new, timestamp: now.addingTimeInterval(-created), message: "created"),
                            createdAt: now.addingTimeInterval(-created))
        t.transition(to: TaskStatus(state: state, timestamp: now.addingTimeInterval(-secondsAgo), message: message, error: error))
        return t
    }

    static let nodeA = node("n1aaaaaaaaaaaaaaaaaaaaaaa", "gw-a")
    static let nodeB = node("n2bbbbbbbbbbbbbbbbbbbbbbb", "gw-b", state: .down, availability: .drain, arch: "arm", role: .manager)
    static let web = service("w1abcdefghijklmnopqrstuvw", "web", mode: .replicated(3), publish: ["8080:80", "5683:5683/udp"], maxPerNode: 2)
    static let probe = service("p1abcdefghijklmnopqrstuvw", "probe", mode: .global, image: "probe:2")

    @Test func replicasCountRunningTasksOffDownNodes() throws {
        let tasks = [
            Self.task("t1", service: Self.web, slot: 1, node: Self.nodeA.id, state: .running, secondsAgo: 5, created: 10),
            Self.task("t2", service: Self.web, slot: 2, node: Self.nodeB.id, state: .running, secondsAgo: 5, created: 10),
            Self.task("t3", service: Self.web, slot: 3, node: nil, state: .pending, secondsAgo: 5, created: 10),
            Self.task("t0", service: Self.web, slot: 1, node: Self.nodeA.id, state: .failed, desired: .shutdown, secondsAgo: 60, created: 100),
            Self.task("g1", service: Self.probe, slot: nil, node: Self.nodeA.id, state: .running, secondsAgo: 5, created: 10),
            Self.task("g2", service: Self.probe, slot: nil, node: "n3", state: .starting, secondsAgo: 5, created: 10),
            Self.task("g0", service: Self.probe, slot: nil, node: "n3", state: .shutdown, desired: .shutdown, secondsAgo: 5, created: 50),
        ]
        let entries = ServiceListing.entries([Self.probe, Self.web], tasks: tasks, nodes: [Self.nodeA, Self.nodeB])
        #expect(entries.map { "\($0.running)/\($0.desired)" } == ["1/2", "1/3"])

        let table = ServiceListing.table(entries).rendered()
        #expect(table == """
            ID             NAME      MODE         REPLICAS               IMAGE        PORTS
            p1abcdefghij   probe     global       1/2                    probe:2
            w1abcdefghij   web       replicated   1/3 (max 2 per node)   sensor:1.0   *:8080->80/tcp, *:5683->5683/udp

            """)
        let untruncated = ServiceListing.table(entries, truncate: false).rendered()
        #expect(untruncated.contains("w1abcdefghijklmnopqrstuvw") && untruncated.contains("sensor:1.0@sha256:abcd"))
    }

    @Test func serviceJSONCarriesTheWireObjectAndItsCounts() throws {
        let entries = ServiceListing.entries([Self.web], tasks: [
            Self.task("t1", service: Self.web, slot: 1, node: Self.nodeA.id, state: .running, secondsAgo: 5, created: 10),
        ])
        let json = try JSONOutput.render(entries)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        let first = try #require(decoded?.first)
        #expect(first["id"] as? String == Self.web.id)
        #expect((first["spec"] as? [String: Any])?["name"] as? String == "web")
        let status = try #require(first["serviceStatus"] as? [String: Int])
        #expect(status == ["runningTasks": 1, "desiredTasks": 3])
        // The service part still decodes as a Service.
        let services = try WireCoding.decoder().decode([Service].self, from: Data(json.utf8))
        #expect(services == [Self.web])
    }

    @Test func publishEntriesPrintAsDocker() {
        #expect(ServiceListing.port("8080:80") == "*:8080->80/tcp")
        #expect(ServiceListing.port("127.0.0.1:53:53/udp") == "127.0.0.1:53->53/udp")
        #expect(ServiceListing.port("80") == "80/tcp")
    }

    @Test func taskTableShowsHistoryRowsAndDockerStateWords() throws {
        let tasks = [
            Self.task("t1zzzzzzzzzzzzzzzzzzzzzzz", service: Self.web, slot: 1, node: Self.nodeA.id, state: .running, secondsAgo: 5, created: 10),
            Self.task("t0zzzzzzzzzzzzzzzzzzzzzzz", service: Self.web, slot: 1, node: Self.nodeB.id, state: .failed, desired: .shutdown,
                      secondsAgo: 75, created: 100, error: "task: non-zero exit (1): the sensor was not found"),
            Self.task("t2zzzzzzzzzzzzzzzzzzzzzzz", service: Self.web, slot: 2, node: nil, state: .pending, secondsAgo: 0.2, created: 1,
                      message: "no suitable node (constraint node.labels.zone==b)"),
            Self.task("t3zzzzzzzzzzzzzzzzzzzzzzz", service: Self.web, slot: 3, node: "unknownnode12345", state: .pending, secondsAgo: 3600, created: 3600,
                      message: "pending task scheduling"),
        ]
        // Given in any order, the newest task of each slot comes first.
        let table = TaskListing.table(tasks.reversed(), nodes: [Self.nodeA, Self.nodeB], now: Self.now).rendered()
        #expect(table == #"""
            ID             NAME        IMAGE        NODE           DESIRED STATE   CURRENT STATE                    ERROR
            t1zzzzzzzzzz   web.1       sensor:1.0   gw-a           Running         Running 5 seconds ago
            t0zzzzzzzzzz    \_ web.1   sensor:1.0   gw-b           Shutdown        Failed about a minute ago        "task: non-zero exit (1): the …"
            t2zzzzzzzzzz   web.2       sensor:1.0                  Running         Pending less than a second ago   "no suitable node (constraint …"
            t3zzzzzzzzzz   web.3       sensor:1.0   unknownnode1   Running         Pending about an hour ago

            """#)
        let full = TaskListing.table(tasks, nodes: [], now: Self.now, truncate: false).rendered()
        #expect(full.contains("web.1.t1zzzzzzzzzzzzzzzzzzzzzzz"))
        #expect(full.contains(#""task: non-zero exit (1): the sensor was not found""#))
        #expect(full.contains("sensor:1.0@sha256:abcd"))
    }

    @Test func globalTasksGroupByNode() {
        let tasks = [
            Self.task("g1", service: Self.probe, slot: nil, node: "nodeA", state: .running, secondsAgo: 1, created: 1),
            Self.task("g0", service: Self.probe, slot: nil, node: "nodeA", state: .shutdown, desired: .shutdown, secondsAgo: 1, created: 9),
            Self.task("g2", service: Self.probe, slot: nil, node: "nodeB", state: .running, secondsAgo: 1, created: 5),
        ]
        let ordered = TaskListing.ordered(tasks)
        #expect(ordered.map(\.task.id) == ["g1", "g0", "g2"])
        #expect(ordered.map(\.isHistory) == [false, true, false])
        #expect(ordered[0].task.name == "probe.nodeA")
    }

    @Test func taskJSONKeepsTheStateHistory() throws {
        let t = Self.task("t1", service: Self.web, slot: 1, node: Self.nodeA.id, state: .running, secondsAgo: 5, created: 10)
        let json = try JSONOutput.render([t])
        let decoded = try WireCoding.decoder().decode([ClusterTask].self, from: Data(json.utf8))
        #expect(decoded == [t])
        #expect(decoded.first?.history.map(\.state) == [.new, .running])
    }

    @Test func nodeTableMarksTheLocalNode() {
        let nodes = [Self.nodeA, Self.nodeB]
        let local = NodeListing.localNodeID(nodes, hostname: "gw-b")
        #expect(local == Self.nodeB.id)
        #expect(NodeListing.table(nodes, localNodeID: local).rendered() == """
            ID                            HOSTNAME   STATUS    AVAILABILITY   PLATFORM      ROLE      SUBNET    MESH
            n1aaaaaaaaaaaaaaaaaaaaaaa     gw-a       Ready     Active         linux/arm64   worker
            n2bbbbbbbbbbbbbbbbbbbbbbb *   gw-b       Down      Drain          linux/arm     manager

            """)
        #expect(NodeListing.localNodeID(nodes + [Self.node("n3", "gw-a")], hostname: "gw-a") == nil)
        #expect(NodeListing.platform(Platform(os: "linux", architecture: "")) == "linux")
        #expect(NodeListing.platform(Platform(os: "linux", architecture: "arm", variant: "v7")) == "linux/arm/v7")
    }

    static func meshNode(_ id: String, _ hostname: String, _ subnet: String, _ reachability: NodeReachability,
                         relay: String? = nil, state: NodeState = .ready) throws -> Node {
        var n = node(id, hostname, state: state)
        n.network = NodeNetwork(subnet: try IPv4Network(parsing: subnet), reachability: reachability, relayNodeID: relay)
        return n
    }

    /// SUBNET and MESH say how each node is reached: directly, as the relay, through a named
    /// relay (down when it is), behind NAT with no relay, or not at all; notes say what that costs.
    @Test func nodeTableShowsSubnetsAndHowTheMeshReachesEachNode() throws {
        let nodes = [
            try Self.meshNode("r1", "gw-r", "10.89.0.0/24", .direct),
            try Self.meshNode("d1", "gw-d", "10.89.1.0/24", .direct),
            try Self.meshNode("n1", "gw-n", "10.89.2.0/24", .nat, relay: "r1"),
            try Self.meshNode("x1", "gw-x", "10.89.3.0/24", .none),
            Self.node("u1", "gw-u"),
        ]
        #expect(NodeListing.table(nodes).rendered() == """
            ID        HOSTNAME   STATUS    AVAILABILITY   PLATFORM      ROLE      SUBNET         MESH
            r1        gw-r       Ready     Active         linux/arm64   worker    10.89.0.0/24   direct, relay
            d1        gw-d       Ready     Active         linux/arm64   worker    10.89.1.0/24   direct
            n1        gw-n       Ready     Active         linux/arm64   worker    10.89.2.0/24   via gw-r
            x1        gw-x       Ready     Active         linux/arm64   worker    10.89.3.0/24   none
            u1        gw-u       Ready     Active         linux/arm64   worker

            """)
        #expect(NodeListing.notes(nodes).isEmpty)

        var relayDown = nodes
        relayDown[0].state = .down
        #expect(NodeListing.mesh(relayDown[2], in: relayDown) == "via gw-r (down)")
        #expect(NodeListing.notes(relayDown) == ["relay gw-r is down: NAT'd nodes cannot reach each other until it is back"])

        let alone = [nodes[1], try Self.meshNode("n2", "gw-m", "10.89.4.0/24", .nat), try Self.meshNode("n3", "gw-l", "10.89.5.0/24", .nat)]
        #expect(NodeListing.mesh(alone[1], in: alone) == "nat")
        #expect(NodeListing.notes(alone).first?.hasPrefix("gw-l, gw-m behind NAT with no relay: NAT'd nodes cannot reach each other") == true)
    }

    @Test func stacksListAndReportDeploys() {
        #expect(StackListing.table([StackSummary(name: "iot", services: 3)]).rendered() == "NAME      SERVICES\niot       3\n")
        let report = StackListing.deployReport(StackDeployResult(created: ["iot_web"], updated: ["iot_db"], unchanged: ["iot_mq"]))
        #expect(report == "Creating service iot_web\nUpdating service iot_db\nService iot_mq is unchanged\n")
        var member = Self.web
        member.spec.labels[stackNamespaceLabel] = "iot"
        #expect(StackListing.members(of: "iot", in: [Self.web, member, Self.probe]).map(\.id) == [member.id])
    }

    /// The token goes to the agent in its environment, never on its command line.
    @Test func joinTokenInstructionsKeepTheTokenOffTheCommandLine() {
        #expect(JoinTokenText.instructions(role: .worker, token: "PIERTKN-1-abc-def", managerAddress: nil) == """
            A new worker join token; the previous one no longer admits anyone, and this one is not shown again.
            To add a worker to this cluster, run the following command on it:

                PIER_JOIN_TOKEN=PIERTKN-1-abc-def pier agent --join tcp://<manager-address>

            or save the token in a file only root can read and pass --token-file FILE.

            """)
        #expect(JoinTokenText.instructions(role: .manager, token: "T", managerAddress: "10.0.0.1:4243")
            .contains("PIER_JOIN_TOKEN=T pier agent --join tcp://10.0.0.1:4243\n"))
        #expect(JoinTokenText.instructions(role: .manager, token: "T", managerAddress: "tcp://m:1").contains("--join tcp://m:1\n"))
        #expect(!JoinTokenText.instructions(role: .manager, token: "T", managerAddress: nil).contains("--token T"))
    }

    @Test func prettyInspectPrintsGoDurationsAndFields() throws {
        #expect(PrettyInspect.duration(5) == "5s")
        #expect(PrettyInspect.duration(90) == "1m30s")
        #expect(PrettyInspect.duration(0.5) == "500ms")
        #expect(PrettyInspect.duration(3600) == "1h0m0s")
        #expect(PrettyInspect.duration(0) == "0s")
        let text = PrettyInspect.service(Self.web)
        #expect(text.hasPrefix("ID:"))
        #expect(text.contains("Name:") && text.contains(" web\n"))
        #expect(text.contains("Service Mode:") && text.contains(" Replicated\n"))
        #expect(text.contains(" Max Replicas Per Node:") && text.contains("Ports:\n - *:8080->80/tcp\n"))
        let node = PrettyInspect.node(Self.nodeB)
        #expect(node.contains("Hostname:") && node.contains(" gw-b\n") && node.contains(" Down\n") && node.contains(" Memory:"))
        #expect(node.contains(" 1GiB\n"))
        #expect(!node.contains("Network:"))

        var meshed = Self.nodeA
        meshed.network = NodeNetwork(subnet: try IPv4Network(parsing: "10.89.7.0/24"), publicKey: "k", endpoint: "192.0.2.7:51820",
                                     reachability: .direct, mtu: 1420, message: "why")
        let text2 = PrettyInspect.node(meshed)
        for expected in ["Network:\n", " 10.89.7.0/24\n", " direct\n", " 192.0.2.7:51820\n", " 1420\n", " why\n"] {
            #expect(text2.contains(expected), "\(expected)")
        }
    }
}
