import PierSpec
import Foundation
import Logging
import NIOCore
import NIOPosix
import PierAccess
import PierAPI
import PierCoAP
import PierOSCORE
import Testing

@testable import PierCoAPAPI

/// Requests as the endpoint hands them to the interface: `client` is who OSCORE authenticated.
func request(_ method: CoAPCode, _ path: String, client: String? = "admin", token: String? = nil, body: String = "", format: UInt32? = nil)
    throws -> CoAPRequest
{
    var m = CoAPMessage(type: .confirmable, code: method, messageID: 1)
    m.uriPath = path.split(separator: "/").map(String.init)
    if let token { m.options.append(CoAPOption(CoAPAccessKeys.tokenOption, string: token)) }
    if let format { m.options.append(CoAPOption(.contentFormat, uint: format)) }
    m.payload = Array(body.utf8)
    return CoAPRequest(message: m, peer: try SocketAddress(ipAddress: "127.0.0.1", port: 9), client: client)
}

func interface(_ backend: RecordingBackend, _ clients: [CoAPAccessKeys.Client], tokens: [String: String] = [:]) throws -> ConstrainedInterface {
    try ConstrainedInterface(backend: backend, keys: CoAPAccessKeys(clients: clients, tokens: tokens), stateDirectory: nil, logger: Logger(label: "test"))
}

extension CoAPResponse {
    var text: String { String(decoding: payload, as: UTF8.self) }
}

@Suite("The CoAP interface: authentication, the route table and scopes")
struct ConstrainedInterfaceHandlingTests {
    static let admin = CoAPAccessKeys.Client(name: "admin", scope: .all)

    @Test func routesMethodsAndRefusesWithoutChangingAnything() async throws {
        let backend = RecordingBackend(role: "agent")
        let reader = CoAPAccessKeys.Client(name: "reader", scope: CoAPScope(services: ["*"], verbs: [.list, .status]))
        let api = try interface(backend, [Self.admin, reader, CoAPAccessKeys.Client(name: "legacy", scope: .all)], tokens: ["legacy": "0123456789abcdef"])
        let anonymous = await api.handle(try request(.put, "/services/c", client: nil, body: #"{"image":"x"}"#))
        #expect(anonymous.code == .unauthorized && anonymous.text.contains("OSCORE"))
        #expect(await api.handle(try request(.put, "/services/c", client: nil, token: "wrong-token-0000", body: #"{"image":"x"}"#)).code == .unauthorized)
        #expect(await api.handle(try request(.put, "/services/c", client: "gone", body: #"{"image":"x"}"#)).code == .unauthorized)
        let readOnly = await api.handle(try request(.put, "/services/c", client: "reader", body: #"{"image":"x"}"#))
        #expect(readOnly.code == .forbidden && readOnly.text.contains("may not activate"))
        #expect(await api.handle(try request(.put, "/services/c", body: #"{"image":"x"}"#, format: 0)).code == .unsupportedContentFormat)
        #expect(backend.calls.withLock { $0 }.isEmpty)

        let created = await api.handle(try request(.put, "/services/c", body: #"{"image":"x"}"#))
        #expect(created.code == .created)
        #expect(created.options.filter { $0.number == .locationPath }.map { String(decoding: $0.value, as: UTF8.self) } == ["services", "c"])
        #expect(await api.handle(try request(.put, "/services/c", client: nil, token: "0123456789abcdef", body: #"{"image":"x"}"#)).code == .changed)
        var viaCBOR = try request(.put, "/services/d", format: CoAPContentFormat.cbor)
        viaCBOR.message.payload = CBOR.map([("image", CBOR.text("y"))])
        #expect(await api.handle(viaCBOR).code == .created)
        #expect(await api.handle(try request(.get, "/services", client: "reader")).code == .content)
        #expect(await api.handle(try request(.post, "/services/c/stop")).code == .changed)
        #expect(await api.handle(try request(.post, "/services/c/start")).code == .changed)
        #expect(await api.handle(try request(.post, "/services/c/explode")).code == .notFound)
        #expect(await api.handle(try request(.post, "/services")).code == .methodNotAllowed)
        #expect(await api.handle(try request(.get, "/services/c/stop")).code == .methodNotAllowed)
        #expect(await api.handle(try request(.get, "/services/c/stop/now")).code == .notFound)
        #expect(await api.handle(try request(.delete, "/services/c")).code == .deleted)
        #expect(await api.handle(try request(.delete, "/services/c")).code == .notFound)
        #expect(await api.handle(try request(.get, "/services/c")).code == .notFound)
        #expect(backend.calls.withLock { $0 } == [
            "activate c x by admin", "activate c x by legacy", "activate d y by admin", "stop c", "start c", "remove c",
        ])
    }

    @Test func tokensAreRefusedWhenTheDaemonDoesNotAllowThem() async throws {
        let api = try interface(RecordingBackend(role: "agent"), [Self.admin])
        let r = await api.handle(try request(.get, "/services", client: nil, token: "0123456789abcdef"))
        #expect(r.code == .unauthorized && r.text.contains("--coap-insecure-token"))
    }

    @Test func aClientScopedToOneServiceSeesAndTouchesOnlyThatOne() async throws {
        let backend = RecordingBackend(role: "agent")
        backend.services.withLock {
            $0 = ["a": .init(name: "a", image: "x", state: "running"), "b": .init(name: "b", image: "x", state: "running"),
                  "a-2": .init(name: "a-2", image: "x", state: "running")]
        }
        let scoped = CoAPAccessKeys.Client(name: "s", scope: CoAPScope(services: ["a"], verbs: Set(CoAPVerb.allCases)))
        let api = try interface(backend, [scoped])
        for (method, path) in [(CoAPCode.get, "/services/b"), (.put, "/services/b"), (.delete, "/services/b"), (.post, "/services/b/stop"), (.post, "/services/b/start")] {
            let r = await api.handle(try request(method, path, client: "s", body: #"{"image":"x"}"#))
            #expect(r.code == .forbidden && r.text.contains("service b is outside client s's scope"), "\(method) \(path): \(r)")
        }
        #expect(backend.calls.withLock { $0 }.isEmpty)
        let list = await api.handle(try request(.get, "/services", client: "s"))
        let names = try JSONDecoder().decode([ConstrainedServiceStatus].self, from: Data(list.payload)).map(\.name)
        #expect(names == ["a"])
        #expect(await api.handle(try request(.post, "/services/a/stop", client: "s")).code == .changed)
    }

    @Test(arguments: [
        (#"{"image":"x","network":"host"}"#, "host-network", "network \"host\""),
        (#"{"image":"x","volumes":["/etc:/host-etc"]}"#, "bind-mounts", "volume /etc:/host-etc"),
        (#"{"image":"x","devices":["/dev/ttyUSB0"]}"#, "devices", "device /dev/ttyUSB0"),
        (#"{"image":"x","capAdd":["NET_ADMIN"]}"#, "capabilities", "cap-add NET_ADMIN"),
    ])
    func activationsAskingForHostAccessNeedThePermission(body: String, permission: String, field: String) async throws {
        let backend = RecordingBackend(role: "agent")
        let plain = CoAPAccessKeys.Client(name: "plain", scope: CoAPScope(services: ["*"], verbs: [.activate, .status]))
        let allowed = CoAPAccessKeys.Client(
            name: "allowed", scope: CoAPScope(services: ["*"], verbs: [.activate, .status], allow: [CoAPPermission(rawValue: permission)!]))
        let api = try interface(backend, [plain, allowed])
        let refused = await api.handle(try request(.put, "/services/c", client: "plain", body: body))
        #expect(refused.code == .forbidden && refused.text.contains(field) && refused.text.contains("\"\(permission)\""), "\(refused.text)")
        #expect(backend.calls.withLock { $0 }.isEmpty)
        #expect(await api.handle(try request(.put, "/services/c", client: "allowed", body: body)).code == .created)
        // What needs no permission passes for both.
        #expect(await api.handle(try request(.put, "/services/d", client: "plain", body: #"{"image":"x","network":"none","env":["A=1"]}"#)).code == .created)
    }

    /// Every (method, path) the interface could be asked: whatever it serves must have a row in
    /// the table, and each row must be reachable. A handler branch added outside the table fails here.
    @Test func everyServedRequestHasARowInTheTable() async throws {
        let methods: [CoAPCode] = [.get, .post, .put, .delete, .fetch, CoAPCode(0, 6), CoAPCode(0, 7)]
        let paths = ["/", "/services", "/services/a", "/services/a/stop", "/services/a/start", "/services/a/restart", "/services/a/stop/x", "/other", "/other/a"]
        var served: Set<String> = []
        for method in methods {
            for path in paths {
                let backend = RecordingBackend(role: "agent")
                backend.services.withLock { $0 = ["a": .init(name: "a", image: "x", state: "running")] }
                let api = try interface(backend, [Self.admin])
                let r = await api.handle(try request(method, path, body: #"{"image":"x"}"#))
                let row = ConstrainedRoute.match(method, path.split(separator: "/").map(String.init))
                if r.code.isSuccess || !backend.calls.withLock({ $0 }).isEmpty {
                    #expect(row != nil, "\(method) \(path) was served (\(r.code)) without a row in ConstrainedRoute.table")
                    served.insert("\(row?.route.description ?? "")")
                } else {
                    #expect(row == nil, "\(method) \(path) has a row but was refused: \(r)")
                }
            }
        }
        #expect(served == Set(ConstrainedRoute.table.map(\.description)), "rows never reached: \(Set(ConstrainedRoute.table.map(\.description)).subtracting(served))")
    }

    @Test func everyActivationFieldIsClassified() {
        let fields = ContainerSpec.fieldNames.union(ActivationRequest.clusterFieldNames)
        let unclassified = fields.subtracting(CoAPScope.activationFields.keys)
        #expect(unclassified.isEmpty, "classify these in CoAPScope.activationFields (nil or the permission they need): \(unclassified.sorted())")
    }

    @Test func anUnclassifiedFieldIsRefused() throws {
        var activation = try ActivationRequest.parse(Array(#"{"image":"x"}"#.utf8), name: "c", cluster: false)
        activation.fields.insert("aFieldNoRuleCovers")
        #expect(throws: ConstrainedAPIError.self) { try CoAPScope.all.permit(activation, client: "admin") }
    }
}

@Suite("The CoAP interface over OSCORE on a real socket")
struct ConstrainedInterfaceOSCORETests {
    @Test func anOSCOREClientActivatesWithinItsScopeAndPlainRequestsAreRefused() async throws {
        let secret = Array("0123456789abcdef0123456789abcdef".utf8)
        let server = try OSCORESecurityContext(masterSecret: secret, senderID: [1], recipientID: [0x5a])
        let clientContext = try OSCORESecurityContext(masterSecret: secret, senderID: [0x5a], recipientID: [1])
        let backend = RecordingBackend(role: "agent")
        let dir = NSTemporaryDirectory() + "pier-coap-api-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let api = try ConstrainedInterface(
            backend: backend,
            keys: CoAPAccessKeys(clients: [.init(name: "s", scope: CoAPScope(services: ["c"], verbs: [.activate, .status]), oscore: server)]),
            stateDirectory: dir, logger: Logger(label: "test"))
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        _ = try await CoAPEndpoint.attach(to: channel, resources: api.resources, configuration: api.endpointConfiguration)
        let peer = try #require(channel.localAddress)
        var c = CoAPEndpoint.Configuration()
        c.messageLayer.additionalKnownOptions.insert(.oscore)
        let clientChannel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let endpoint = try await CoAPEndpoint.attach(to: clientChannel, configuration: c)
        defer { Task { try? await channel.close(); try? await clientChannel.close() } }

        let client = OSCOREClient(context: clientContext)
        let put = try await client.request(.put, "/services/c", on: endpoint, peer: peer, payload: Array(#"{"image":"x"}"#.utf8))
        let other = try await client.request(.put, "/services/d", on: endpoint, peer: peer, payload: Array(#"{"image":"x"}"#.utf8))
        let host = try await client.request(.put, "/services/c", on: endpoint, peer: peer, payload: Array(#"{"image":"x","network":"host"}"#.utf8))
        let plain = try await endpoint.put("/services/c", to: peer, payload: Array(#"{"image":"y"}"#.utf8))
        #expect(put.code == .created, "\(put)")
        #expect(other.code == .forbidden && host.code == .forbidden, "\(other) \(host)")
        #expect(plain.code == .unauthorized, "\(plain)")
        #expect(backend.calls.withLock { $0 } == ["activate c x by s"])
        // The Echo challenge reserved an own sequence number, on disk before it was used.
        #expect(FileManager.default.fileExists(atPath: dir + "/oscore-sequence.json"))
    }
}

/// The CoAP interface's routes come from the one access table of every server.
@Suite struct CoAPAccessTableTests {
    @Test func everyRuleOfTheAccessTableIsARowAndEveryVerbHasARule() {
        #expect(ConstrainedRoute.table.count == AccessPolicy.coapInterface.count)
        #expect(Set(AccessPolicy.coapInterface.values) == Set(CoAPVerb.allCases.map(\.rawValue)))
        for (route, verb) in AccessPolicy.coapInterface {
            #expect(ConstrainedRoute(route, verb: verb) != nil, "\(route) → \(verb) is not a CoAP route")
        }
    }
}
