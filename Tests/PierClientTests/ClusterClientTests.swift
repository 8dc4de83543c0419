import PierSpec
import Foundation
import PierAPI
import PierCluster
import Testing
@testable import PierClient
@testable import PierManager

@Suite("AgentClient's manager calls against a fake manager on a unix socket")
struct ClusterClientTests {
    /// JSON as the manager writes it, with the manager's own encoder.
    static func managerJSON(_ value: some Encodable) -> String {
        (try? String(decoding: JSONResponses.encoder.encode(value), as: UTF8.self)) ?? "null"
    }

    static let when = Date(timeIntervalSince1970: 1_700_000_000)
    static let spec = ServiceSpec(name: "web", task: TaskTemplate(container: ContainerSpec(image: "busybox", command: ["sleep", "1d"])), mode: .replicated(2))
    static let service = Service(id: "svc0000000000000000000001", spec: spec, createdAt: when, updatedAt: when)
    static let node = Node(id: "node000000000000000000001", description: NodeDescription(hostname: "gw-a", platform: Platform(os: "linux", architecture: "arm64"), resources: Resources(cpus: 4, memoryBytes: 1 << 30)),
                           state: .ready, lastHeartbeat: when, createdAt: when, updatedAt: when)

    func withManager<R: Sendable>(
        _ handler: @escaping @Sendable (FakeAgent.Request) -> FakeAgent.Response, _ body: (AgentClient) async throws -> R
    ) async throws -> (R, [FakeAgent.Request]) {
        let manager = try FakeAgent(handler)
        defer { manager.stop() }
        let result = try await AgentClient.withClient(endpoint: .unix(path: manager.socketPath), body)
        return (result, manager.requests)
    }

    @Test func createServicePostsTheSpecAndDecodesTheService() async throws {
        let (created, sent) = try await withManager({ _ in .json(Self.managerJSON(Self.service), status: 201) }) {
            try await $0.createService(Self.spec)
        }
        #expect(created == Self.service)
        #expect(sent.count == 1)
        #expect(sent.first?.method == "POST" && sent.first?.target == "/v1/services")
        #expect(sent.first?.headers["content-type"] == "application/json")
        let body = try #require(sent.first?.body)
        #expect(try JSONDecoder().decode(ServiceSpec.self, from: Data(body)) == Self.spec)
    }

    @Test func everyServiceRouteHitsItsPath() async throws {
        let (_, sent) = try await withManager({ request in
            switch (request.method, request.target) {
            case ("DELETE", _): return .noContent
            case (_, let t) where t.hasSuffix("/tasks"): return .json("[]")
            case ("GET", "/v1/services"): return .json("[\(Self.managerJSON(Self.service))]")
            default: return .json(Self.managerJSON(Self.service))
            }
        }) { client in
            _ = try await client.listServices()
            _ = try await client.inspectService("web app")
            _ = try await client.updateService("web", spec: Self.spec)
            _ = try await client.scaleService("web", replicas: 3)
            _ = try await client.rollbackService("web")
            _ = try await client.listServiceTasks("web")
            try await client.removeService("web")
        }
        #expect(sent.map { "\($0.method) \($0.target)" } == [
            "GET /v1/services", "GET /v1/services/web%20app", "POST /v1/services/web/update", "POST /v1/services/web/scale",
            "POST /v1/services/web/rollback", "GET /v1/services/web/tasks", "DELETE /v1/services/web",
        ])
        #expect(try JSONDecoder().decode(ScaleRequest.self, from: Data(try sent.required(3).body)) == ScaleRequest(replicas: 3))
        #expect(try JSONDecoder().decode(ServiceSpec.self, from: Data(try sent.required(2).body)) == Self.spec)
    }

    @Test func tasksAndNodesWithTheirQueries() async throws {
        var task = ClusterTask(id: "task00000000000000000001", serviceID: Self.service.id, serviceName: "web", slot: 1, nodeID: Self.node.id,
                               serviceVersion: 1, template: Self.spec.task, image: "busybox@sha256:ab",
                               status: TaskStatus(state: .new, timestamp: Self.when, message: "created"), createdAt: Self.when)
        task.transition(to: TaskStatus(state: .running, timestamp: Self.when, message: "started", containerID: "c1"))
        let taskJSON = "[\(Self.managerJSON(task))]"
        let (result, sent) = try await withManager({ request in
            switch (request.method, request.target) {
            case ("GET", let t) where t.hasPrefix("/v1/tasks"): return .json(taskJSON)
            case ("GET", "/v1/nodes"): return .json("[\(Self.managerJSON(Self.node))]")
            case ("DELETE", _): return .noContent
            default: return .json(Self.managerJSON(Self.node))
            }
        }) { client in
            let tasks = try await client.listTasks(service: "web", node: "gw-a")
            _ = try await client.listTasks()
            let nodes = try await client.listNodes()
            let node = try await client.inspectNode("gw-a")
            _ = try await client.updateNode("gw-a", NodeUpdateRequest(availability: .drain, labelAdd: ["zone": "a"]))
            try await client.removeNode("gw-a", force: true)
            try await client.removeNode("gw-b", force: false)
            return (tasks, nodes, node)
        }
        #expect(result.0 == [task])
        #expect(result.1 == [Self.node])
        #expect(result.2 == Self.node)
        #expect(sent.map { "\($0.method) \($0.target)" } == [
            "GET /v1/tasks?service=web&node=gw-a", "GET /v1/tasks", "GET /v1/nodes", "GET /v1/nodes/gw-a",
            "POST /v1/nodes/gw-a/update", "DELETE /v1/nodes/gw-a?force=1", "DELETE /v1/nodes/gw-b",
        ])
        let update = try JSONDecoder().decode(NodeUpdateRequest.self, from: Data(try sent.required(4).body))
        #expect(update == NodeUpdateRequest(availability: .drain, labelAdd: ["zone": "a"]))
    }

    @Test func stacksTokensAndClusterInfo() async throws {
        let deployed = StackDeployResult(created: ["iot_web"], updated: ["iot_db"])
        let status = JoinTokenStatus(worker: Date(timeIntervalSince1970: 1_700_000_000))
        let issued = JoinTokenIssued(role: .manager, token: "PIERTKN-1-ca-m")
        let info = ClusterInfo(clusterID: "c1", caFingerprint: "sha256:ab", nodes: 3, nodesReady: 2, services: 4, tasks: 9, version: "0.1.0")
        let (result, sent) = try await withManager({ request in
            switch (request.method, request.target) {
            case ("POST", "/v1/stacks/iot"): return .json(Self.managerJSON(deployed))
            case ("GET", "/v1/stacks"): return .json(#"[{"name":"iot","services":2}]"#)
            case ("DELETE", _): return .noContent
            case ("GET", "/v1/join-tokens"): return .json(Self.managerJSON(status))
            case ("POST", let t) where t.hasPrefix("/v1/join-tokens/rotate"): return .json(Self.managerJSON(issued))
            default: return .json(Self.managerJSON(info))
            }
        }) { client in
            let request = StackDeployRequest(compose: "services: {}\n", environment: ["TAG": "1"], directory: "/srv/iot")
            let result = try await client.deployStack("iot", request)
            let stacks = try await client.listStacks()
            try await client.removeStack("iot")
            let got = try await client.joinTokenStatus()
            let rotated = try await client.rotateJoinToken(role: .manager)
            let cluster = try await client.clusterInfo()
            return (result, stacks, got, rotated, cluster)
        }
        #expect(result.0 == deployed)
        #expect(result.1 == [StackSummary(name: "iot", services: 2)])
        #expect(result.2 == status && result.3 == issued)
        #expect(result.4 == info)
        #expect(sent.map { "\($0.method) \($0.target)" } == [
            "POST /v1/stacks/iot", "GET /v1/stacks", "DELETE /v1/stacks/iot", "GET /v1/join-tokens",
            "POST /v1/join-tokens/rotate?role=manager", "GET /v1/cluster",
        ])
        let body = try JSONDecoder().decode(StackDeployRequest.self, from: Data(try sent.required(0).body))
        #expect(body == StackDeployRequest(compose: "services: {}\n", environment: ["TAG": "1"], directory: "/srv/iot"))
    }

    @Test func managerErrorsKeepTheirMessage() async throws {
        let manager = try FakeAgent { _ in .json(#"{"message":"no such service: ghost"}"#, status: 404) }
        defer { manager.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: manager.socketPath)) { try await $0.inspectService("ghost") }
        }
        #expect(error == .api(status: 404, message: "no such service: ghost"))
    }

    @Test func aPlainAgentIsNotMistakenForAManager() async throws {
        // An agent answers 404 with an empty body on cluster routes.
        let agent = try FakeAgent { _ in FakeAgent.Response(status: 404, contentType: "text/plain", chunks: []) }
        defer { agent.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: agent.socketPath)) { try await $0.listServices() }
        }
        #expect(error?.description == "unix://\(agent.socketPath) does not serve the manager API (GET /v1/services answered 404); point --host or PIER_HOST at the socket of `pier manager` or `pier up`")
    }

    @Test func invalidSpecAnswerIsReportedAsIs() async throws {
        let manager = try FakeAgent { _ in .json(#"{"message":"image: a service needs an image"}"#, status: 400) }
        defer { manager.stop() }
        let error = await #expect(throws: ClientError.self) {
            try await AgentClient.withClient(endpoint: .unix(path: manager.socketPath)) { try await $0.createService(Self.spec) }
        }
        #expect(error == .api(status: 400, message: "image: a service needs an image"))
    }
}
