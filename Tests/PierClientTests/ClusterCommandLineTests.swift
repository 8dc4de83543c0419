import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierClient

@Suite("pier service, node, stack and join-token against a fake manager", .enabled(if: PierBinary.available), .timeLimit(.minutes(5)))
struct ClusterCommandLineTests {
    static let when = Date(timeIntervalSince1970: 1_700_000_000)

    static func json(_ value: some Encodable) -> String { ClusterClientTests.managerJSON(value) }

    static func service(_ spec: ServiceSpec) -> Service {
        Service(id: "svc0000000000000000000001", spec: spec, createdAt: when, updatedAt: when)
    }

    @Test func serviceCreateSendsTheSpecAndPrintsTheId() throws {
        let manager = try FakeAgent { request in
            let spec = (try? JSONDecoder().decode(ServiceSpec.self, from: Data(request.body)))
                ?? ServiceSpec(name: "?", task: TaskTemplate(container: .init(image: "?")))
            return .json(Self.json(Self.service(spec)), status: 201)
        }
        defer { manager.stop() }
        let result = try PierBinary.run([
            "service", "create", "-H", "unix://" + manager.socketPath, "--name", "web", "--replicas", "3",
            "-e", "A=1", "-p", "8080:80", "--constraint", "node.labels.zone==a", "--restart-condition", "on-failure",
            "--update-order", "start-first", "--limit-memory", "64m", "--reserve-cpu", "0.5", "--read-only",
            "busybox", "sleep", "-v", "1d",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "svc0000000000000000000001\n")
        let sent = try #require(manager.requests.first)
        #expect(manager.requests.count == 1)
        #expect(sent.method == "POST" && sent.target == "/v1/services")
        let spec = try JSONDecoder().decode(ServiceSpec.self, from: Data(sent.body))
        #expect(spec.name == "web" && spec.mode == .replicated(3))
        #expect(spec.task.container.command == ["sleep", "-v", "1d"])
        #expect(spec.task.container.env == ["A=1"] && spec.task.container.publish == ["8080:80"])
        #expect(spec.task.container.readOnly && spec.task.container.memory == "64m")
        #expect(spec.task.placement.constraints == ["node.labels.zone==a"])
        #expect(spec.task.restartPolicy.condition == .onFailure && spec.update.order == .startFirst)
        #expect(spec.task.reservations.cpus == 0.5)
    }

    @Test func badFlagIsRefusedBeforeAnythingIsSent() throws {
        let manager = try FakeAgent { _ in .json("{}") }
        defer { manager.stop() }
        let result = try PierBinary.run([
            "service", "create", "-H", "unix://" + manager.socketPath, "--update-failure-action", "explode", "busybox",
        ])
        #expect(result.status == 1)
        #expect(result.stderr == "Error: --update-failure-action \"explode\": use pause, continue, rollback\n")
        #expect(manager.requests.isEmpty)
    }

    @Test func serviceUpdateChangesOnlyTheGivenFlags() throws {
        var c = ContainerSpec(image: "sensor:1.0@sha256:aa", command: ["serve"])
        c.env = ["A=1", "B=2"]
        let current = ServiceSpec(name: "web", labels: ["team": "iot"], task: TaskTemplate(container: c), mode: .replicated(2))
        let manager = try FakeAgent { request in
            if request.method == "GET" { return .json(Self.json(Self.service(current))) }
            let spec = (try? JSONDecoder().decode(ServiceSpec.self, from: Data(request.body))) ?? current
            return .json(Self.json(Self.service(spec)))
        }
        defer { manager.stop() }
        let result = try PierBinary.run([
            "service", "update", "-H", "unix://" + manager.socketPath, "--image", "sensor:1.1", "--env-add", "B=3",
            "--env-rm", "A", "--update-parallelism", "2", "web",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "web\n")
        #expect(manager.requests.map { "\($0.method) \($0.target)" } == ["GET /v1/services/web", "POST /v1/services/svc0000000000000000000001/update"])
        let sent = try JSONDecoder().decode(ServiceSpec.self, from: Data(try manager.requests.required(1).body))
        var expected = current
        expected.task.container.image = "sensor:1.1"
        expected.task.container.env = ["B=3"]
        expected.update.parallelism = 2
        #expect(sent == expected)
    }

    @Test func scaleLsAndPs() throws {
        let spec = ServiceSpec(name: "web", task: TaskTemplate(container: .init(image: "busybox@sha256:aa")), mode: .replicated(2))
        let service = Self.service(spec)
        var running = ClusterTask(id: "task00000000000000000001", serviceID: service.id, serviceName: "web", slot: 1, nodeID: "node1",
                               serviceVersion: 1, template: spec.task, image: "busybox@sha256:aa",
                                  status: TaskStatus(state: .new, timestamp: Self.when), createdAt: Self.when)
        running.transition(to: TaskStatus(state: .running, timestamp: Self.when))
        let task = running
        let node = Node(id: "node1", description: NodeDescription(hostname: "gw-a", platform: Platform(os: "linux", architecture: "arm64"), resources: .zero),
                        state: .ready, createdAt: Self.when, updatedAt: Self.when)
        let manager = try FakeAgent { request in
            switch request.target {
            case "/v1/services": return .json("[\(Self.json(service))]")
            case "/v1/tasks", "/v1/services/web/tasks": return .json("[\(Self.json(task))]")
            case "/v1/nodes": return .json("[\(Self.json(node))]")
            default: return .json(Self.json(service))
            }
        }
        defer { manager.stop() }
        let host = "unix://" + manager.socketPath
        let scaled = try PierBinary.run(["service", "scale", "-H", host, "web=3"])
        #expect(scaled.stdout == "web scaled to 3\n")
        let ls = try PierBinary.run(["service", "ls", "-H", host])
        #expect(ls.stdout.contains("svc000000000   web       replicated   1/2"))
        let ps = try PierBinary.run(["service", "ps", "-H", host, "web"])
        #expect(ps.stdout.hasPrefix("ID             NAME      IMAGE     NODE      DESIRED STATE   CURRENT STATE"))
        #expect(ps.stdout.contains("task00000000   web.1     busybox   gw-a      Running         Running "))
        let json = try PierBinary.run(["service", "ps", "-H", host, "--format", "json", "web"])
        #expect(try WireCoding.decoder().decode([ClusterTask].self, from: Data(json.stdout.utf8)) == [task])
    }

    /// Tokens are kept as hashes: every `join-token` makes a new one and shows it once.
    @Test func joinTokenMakesANewTokenEachTime() throws {
        let manager = try FakeAgent { request in
            .json(request.target.hasSuffix("role=worker") ? #"{"role":"worker","token":"PIERTKN-1-ca-w"}"# : #"{"role":"manager","token":"PIERTKN-1-ca-m"}"#)
        }
        defer { manager.stop() }
        let host = "unix://" + manager.socketPath
        #expect(try PierBinary.run(["join-token", "-H", host, "-q", "worker"]).stdout == "PIERTKN-1-ca-w\n")
        let rotated = try PierBinary.run(["join-token", "-H", host, "--manager-address", "10.0.0.1:4243", "manager"])
        #expect(rotated.stdout.contains("PIER_JOIN_TOKEN=PIERTKN-1-ca-m pier agent --join tcp://10.0.0.1:4243\n"))
        #expect(manager.requests.map(\.target) == ["/v1/join-tokens/rotate?role=worker", "/v1/join-tokens/rotate?role=manager"])
    }

    @Test func serviceLogsAsksForTheTailAndPrintsBothStreams() throws {
        let manager = try FakeAgent { _ in
            FakeAgent.Response(status: 200, contentType: "application/vnd.pier.stream", chunks: [
                StreamFrame(kind: .stdout, payload: Array("web.1.abc@a    | hello\n".utf8)).encoded(),
                StreamFrame(kind: .stderr, payload: Array("web.2.def@b    | oops\n".utf8)).encoded(),
            ])
        }
        defer { manager.stop() }
        let result = try PierBinary.run(["service", "logs", "-H", "unix://" + manager.socketPath, "--tail", "5", "-t", "web"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "web.1.abc@a    | hello\n")
        #expect(result.stderr == "web.2.def@b    | oops\n")
        let sent = try #require(manager.requests.first)
        #expect(sent.method == "GET" && sent.target.hasPrefix("/v1/services/web/logs?"))
        #expect(sent.target.contains("tail=5") && sent.target.contains("timestamps=1") && !sent.target.contains("follow"))

        let bad = try PierBinary.run(["service", "logs", "-H", "unix://" + manager.socketPath, "--tail", "-3", "web"])
        #expect(bad.status != 0 && bad.stderr.contains("--tail"))
        #expect(manager.requests.count == 1)
    }
}
