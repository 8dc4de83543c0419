import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import PierAccess
import PierCluster
import PierCoAPAPI
import PierSpec
import Testing
@testable import PierManager

/// Absurd values through every entry point that takes a container or service spec: the agent's
/// API, the manager's API, CoAP activations (and compose and the CLI in their own suites). Each
/// is refused with a 400-class error naming the field, nothing is stored, and the server keeps
/// answering. Near Int.max replicas, a 1e17 s health interval and the like once trapped the
/// manager or the agent, and again at every restart.
@Suite struct HostileSpecTests {
    /// Container fields as JSON fragments, and a word the refusal must name.
    static let containerCases: [(fragment: String, names: String)] = [
        (#""pidsLimit": 9223372036854775807"#, "--pids-limit"),
        (#""pidsLimit": -2"#, "--pids-limit"),
        (#""cpus": 1e309"#, ""),  // not a number JSON decoding can represent: refused as a body
        (#""cpus": NaN"#, ""),
        (#""cpus": 0"#, "--cpus"),
        (#""cpus": -1"#, "--cpus"),
        (#""cpus": 1e300"#, "--cpus"),
        (#""memory": "9999999999999p""#, "--memory"),
        (#""memory": "-1""#, "--memory"),
        (#""memory": "0""#, "--memory"),
        (#""shmSize": "1e309""#, "--shm-size"),
        (#""logMaxSize": 9223372036854775807"#, "max-size"),
        (#""logMaxFiles": 0"#, "max-file"),
        (#""health": {"command": ["true"], "intervalSeconds": 1e17}"#, "interval"),
        (#""health": {"command": ["true"], "intervalSeconds": 1e-9}"#, "interval"),
        (#""health": {"command": ["true"], "retries": 9223372036854775807}"#, "retries"),
        (#""health": {"command": ["true"], "timeoutSeconds": -1}"#, "timeout"),
        (#""restart": "on-failure:9223372036854775807""#, "--restart"),
        (#""publish": ["99999:80"]"#, "99999"),
        (#""ulimits": ["nofile=18446744073709551616"]"#, "--ulimit"),
        (#""name": """#, "--name"),
        (#""name": "\#(String(repeating: "n", count: 100_000))""#, "--name"),
        (#""image": """#, "IMAGE"),
        (#""image": "\#(String(repeating: "i", count: 100_000))""#, "IMAGE"),
        (#""env": [\#(Array(repeating: #""K=V""#, count: 5000).joined(separator: ","))]"#, "--env"),
    ]

    /// Service fields (beside a valid container), and the field the refusal must name.
    static let serviceCases: [(json: String, names: String)] = [
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}}, "mode": {"mode": "replicated", "replicas": 9223372036854775807}}"#, "replicas"),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}}, "mode": {"mode": "replicated", "replicas": -1}}"#, "replicas"),
        (#"{"name": "", "task": {"container": {"image": "busybox"}}}"#, "name"),
        (#"{"name": "\#(String(repeating: "s", count: 100_000))", "task": {"container": {"image": "busybox"}}}"#, "name"),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}}, "update": {"parallelism": 9223372036854775807}}"#, "parallelism"),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}, "restartPolicy": {"delaySeconds": 1e17}}}"#, "restart-delay"),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}, "restartPolicy": {"delaySeconds": 1e309}}}"#, ""),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}, "reservations": {"cpus": 1e300, "memoryBytes": 0}}}"#, "reservations"),
        (#"{"name": "svc", "task": {"container": {"image": "busybox"}, "placement": {"maxReplicasPerNode": 9223372036854775807}}}"#, "max-replicas"),
    ]

    @Test func agentAPIRefusesEveryAbsurdContainerAndStoresNothing() async throws {
        try await Self.serving { client, base in
            for (fragment, names) in Self.containerCases {
                let body = fragment.contains(#""image""#) ? "{\(fragment)}" : #"{"image": "busybox", \#(fragment)}"#
                let (status, message) = try await Self.call(client, "POST", "\(base)/v1/containers?start=0", body)
                #expect((400..<500).contains(status), "\(fragment.prefix(80)): \(status) \(message)")
                #expect(names.isEmpty || message.contains(names), "\(fragment.prefix(80)) → \(message.prefix(300))")
                let (listed, containers) = try await Self.call(client, "GET", "\(base)/v1/containers?all=1", nil)
                #expect(listed == 200 && containers.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "stored after \(fragment.prefix(80))")
            }
        }
    }

    @Test func managerAPIRefusesEveryAbsurdServiceAndStoresNothing() async throws {
        try await Self.serving { client, base in
            var bodies = Self.serviceCases
            for (fragment, names) in Self.containerCases {
                let container = fragment.contains(#""image""#) ? "{\(fragment)}" : #"{"image": "busybox", \#(fragment)}"#
                bodies.append((#"{"name": "svc", "task": {"container": \#(container)}}"#, names))
            }
            for (json, names) in bodies {
                let (status, message) = try await Self.call(client, "POST", "\(base)/v1/services", json)
                #expect((400..<500).contains(status), "\(json.prefix(120)): \(status) \(message)")
                #expect(names.isEmpty || message.contains(names), "\(json.prefix(120)) → \(message.prefix(300))")
            }
            let (listed, services) = try await Self.call(client, "GET", "\(base)/v1/services", nil)
            #expect(listed == 200 && services.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "stored: \(services.prefix(300))")

            // A valid service, then absurd scales: refused, the count unchanged.
            let created = try await Self.call(client, "POST", "\(base)/v1/services", #"{"name": "web", "task": {"container": {"image": "busybox"}}}"#)
            #expect(created.0 == 200 || created.0 == 201, "\(created)")
            for replicas in ["9223372036854775807", "-1", "10001", "1e309", "NaN"] {
                let (status, message) = try await Self.call(client, "POST", "\(base)/v1/services/web/scale", #"{"replicas": \#(replicas)}"#)
                #expect((400..<500).contains(status), "scale \(replicas): \(status) \(message)")
            }
            let (_, web) = try await Self.call(client, "GET", "\(base)/v1/services/web", nil)
            #expect(web.contains(#""replicas":1"#) || web.contains(#""replicas" : 1"#), "\(web.prefix(400))")
        }
    }

    @Test func coapActivationsRefuseTheSameValues() {
        for (fragment, _) in Self.containerCases where !fragment.contains("NaN") && !fragment.contains("1e309") && !fragment.contains(#""name""#) {
            let body = fragment.contains(#""image""#) ? "{\(fragment)}" : #"{"image": "busybox", \#(fragment)}"#
            #expect(throws: ConstrainedAPIError.self, "\(fragment.prefix(80))") {
                _ = try ActivationRequest.parse(Array(body.utf8), name: "svc", cluster: true)
            }
        }
        for replicas in ["9223372036854775807", "-1", "10001"] {
            #expect(throws: ConstrainedAPIError.self) {
                _ = try ActivationRequest.parse(Array(#"{"image": "busybox", "replicas": \#(replicas)}"#.utf8), name: "svc", cluster: true)
            }
        }
        #expect(throws: Never.self) { _ = try ActivationRequest.parse(Array(#"{"image": "busybox", "replicas": 3}"#.utf8), name: "svc", cluster: true) }
    }

    // MARK: Serving

    /// `pier up`'s local router (manager and agent API) on a loopback port, on a scratch data root.
    static func serving(_ body: (HTTPClient, String) async throws -> Void) async throws {
        try await RouteAccessTests.withParts { parts in
            let router = ManagerService.localRouter(parts, localWorker: true)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in
                    continuation.yield(channel.localAddress?.port ?? 0)
                    continuation.finish()
                })
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await body(client, "http://127.0.0.1:\(port)")
                // Still answering after all of it.
                let (status, _) = try await call(client, "GET", "http://127.0.0.1:\(port)/v1/info", nil)
                #expect(status == 200)
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    static func call(_ client: HTTPClient, _ method: String, _ url: String, _ body: String?) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: bytes))
    }
}
