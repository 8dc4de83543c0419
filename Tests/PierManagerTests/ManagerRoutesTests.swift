import PierSpec
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PierAPI
import PierAgent
import PierCluster
import Testing
@testable import PierManager

/// The manager's HTTP API as `pier manager` serves it on its admin socket, in process: status
/// codes, bodies in the manager's JSON, and errors that name what was wrong.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ManagerRoutesTests {
    struct Answer {
        var status: Int
        var body: Data
        var headers: [String: String]
        var text: String { String(decoding: body, as: UTF8.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONResponses.decoder.decode(T.self, from: body) }
    }

    /// The local router on a unix socket, and a function that sends one request to it.
    static func withSocket(_ body: (ManagerService.Parts, (String, String, Data?, [String: String]) async throws -> Answer) async throws -> Void) async throws {
        try await RouteAccessTests.withParts { parts in
            let socket = FileManager.default.temporaryDirectory.appendingPathComponent("pier-mr-\(UUID().uuidString.prefix(8)).sock").path
            defer { try? FileManager.default.removeItem(atPath: socket) }
            let apps = try Agent.unixApplications(
                ["unix://" + socket], router: ManagerService.localRouter(parts, localWorker: false), serverName: "pier-manager", logger: Logger(label: "test"))
            let app = try #require(apps.first)
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            let deadline = Date().addingTimeInterval(30)
            while !FileManager.default.fileExists(atPath: socket) && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            let encodedSocket = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket
            do {
                try await body(parts) { method, path, data, headers in
                    var request = HTTPClientRequest(url: "http+unix://\(encodedSocket)\(path)")
                    request.method = .init(rawValue: method)
                    for (name, value) in headers { request.headers.add(name: name, value: value) }
                    if let data {
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: data))
                    }
                    let response = try await http.execute(request, timeout: .seconds(30))
                    let bytes = try await response.body.collect(upTo: 4 << 20)
                    var fields: [String: String] = [:]
                    for header in response.headers { fields[header.name.lowercased()] = header.value }
                    return Answer(status: Int(response.status.code), body: Data(bytes.readableBytesView), headers: fields)
                }
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    static func json(_ value: some Encodable) throws -> Data { try JSONEncoder().encode(value) }

    static let spec = ServiceSpec(
        name: "web", task: TaskTemplate(container: ContainerSpec(image: "busybox:1", command: ["sleep", "1d"])), mode: .replicated(2))

    @Test func servicesAreCreatedReadScaledAndRemovedWithTheirStatusCodes() async throws {
        try await Self.withSocket { parts, send in
            let created = try await send("POST", "/v1/services", try Self.json(Self.spec), [:])
            #expect(created.status == 201, "\(created.text)")
            let service = try created.decode(Service.self)
            #expect(service.spec.name == "web" && service.spec.mode == .replicated(2))
            #expect(created.headers["content-type"] == "application/json")

            let read = try await send("GET", "/v1/services/web", nil, [:])
            #expect(try read.status == 200 && read.decode(Service.self) == service)
            let listed = try await send("GET", "/v1/services", nil, [:])
            #expect(try listed.decode([Service].self).map(\.id) == [service.id])

            let scaled = try await send("POST", "/v1/services/web/scale", try Self.json(ScaleRequest(replicas: 3)), [:])
            #expect(try scaled.status == 200 && scaled.decode(Service.self).spec.mode == .replicated(3), "\(scaled.text)")
            #expect(try await parts.manager.lookupService("web").spec.mode == .replicated(3))

            let again = try await send("POST", "/v1/services", try Self.json(Self.spec), [:])
            #expect(again.status == 409, "\(again.text)")
            #expect(try again.decode(APIError.self).message.contains("web"))

            #expect(try await send("DELETE", "/v1/services/web", nil, [:]).status == 204)
            let gone = try await send("GET", "/v1/services/web", nil, [:])
            #expect(try gone.status == 404 && gone.decode(APIError.self).message.contains("web"), "\(gone.text)")
            #expect(try await send("DELETE", "/v1/services/web", nil, [:]).status == 404)
            #expect(await parts.manager.listServices().isEmpty)
        }
    }

    @Test func badBodiesAreRefusedNamingTheFieldAndNothingIsStored() async throws {
        try await Self.withSocket { parts, send in
            let cases: [(Data, String, Int)] = [
                (Data("{".utf8), "request body", 400),
                (Data(#"{"name":"web"}"#.utf8), "missing field", 400),
                (Data(#"{"name":7,"task":{"container":{"image":"busybox"}}}"#.utf8), "field name has the wrong type", 400),
                (Data(count: 2 << 20), "larger than", 413),
            ]
            for (body, reason, status) in cases {
                let answer = try await send("POST", "/v1/services", body, [:])
                #expect(answer.status == status, "\(reason): \(answer.status) \(answer.text)")
                #expect((try? answer.decode(APIError.self))?.message.contains(reason) == true, "\(reason): \(answer.text)")
            }
            var negativeSpec = Self.spec
            negativeSpec.mode = .replicated(-1)
            let negative = try await send("POST", "/v1/services", try Self.json(negativeSpec), [:])
            #expect(negative.status == 400 && negative.text.contains("replicas"), "\(negative.text)")
            let scale = try await send("POST", "/v1/services/nothing/scale", try Self.json(ScaleRequest(replicas: 1)), [:])
            #expect(scale.status == 404, "\(scale.text)")
            #expect(await parts.manager.listServices().isEmpty)
        }
    }

    @Test func registryCredentialsAndTheTokenEndpoint() async throws {
        try await Self.withSocket { _, send in
            let made = try await send("POST", "/v1/registry/credentials", try Self.json(RegistryCredentialRequest(name: "ci", push: true)), [:])
            #expect(made.status == 201, "\(made.text)")
            let secret = try made.decode(RegistryCredentialCreated.self).secret
            let listed = try await send("GET", "/v1/registry/credentials", nil, [:])
            #expect(!listed.text.contains(secret) && listed.text.contains("\"ci\""))

            func basic(_ secret: String) -> [String: String] { ["Authorization": "Basic " + Data("ci:\(secret)".utf8).base64EncodedString()] }
            let refused = try await send("GET", "/v1/registry/token?service=pier-registry&scope=repository:edge/app:push", nil, basic("wrong"))
            #expect(refused.status == 401, "\(refused.text)")
            #expect(refused.headers["www-authenticate"] == "Basic realm=\"pier-registry\"")
            let granted = try await send("GET", "/v1/registry/token?service=pier-registry&scope=repository:edge/app:push", nil, basic(secret))
            #expect(granted.status == 200, "\(granted.text)")
            let token = try granted.decode(RegistryTokenResponse.self)
            #expect(!token.token.isEmpty && token.token == token.accessToken && token.expiresIn > 0)

            #expect(try await send("DELETE", "/v1/registry/credentials/ci", nil, [:]).status == 204)
            #expect(try await send("GET", "/v1/registry/token?scope=repository:edge/app:pull", nil, basic(secret)).status == 401)
        }
    }
}
