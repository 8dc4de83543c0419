import Foundation
import Logging
import NIOCore
import NIOPosix
import PierCoAP
import PierOSCORE

/// The CoAP interface of an agent (the papers' CPIS) or a manager (CEMC), for constrained clients:
///
///     GET    /services                 every service, a JSON array of statuses
///     PUT    /services/NAME            activate: create and start (JSON body: image and options)
///     GET    /services/NAME            its status; with Observe, a notification on every change
///     POST   /services/NAME/stop       stop it and keep it (a manager scales it to 0)
///     POST   /services/NAME/start      start it again (agent)
///     DELETE /services/NAME            stop and remove it
///
/// Every request is OSCORE-protected (RFC 8613) with a client's context from `CoAPAccessKeys`
/// (or, with `--coap-insecure-token`, carries a client token); without one it is answered 4.01
/// and changes nothing. What a client may do is its scope, checked against
/// `ConstrainedRoute.table` and, for activations, `CoAPScope.permit`: outside it, 4.03.
public final class ConstrainedInterface: Sendable {
    let backend: any ConstrainedBackend
    let keys: CoAPAccessKeys
    let logger: Logger
    let oscore: OSCOREServer
    private let notifier: ChangeNotifier

    /// An interface for `keys`; `stateDirectory` (the daemon's `DATA_ROOT/coap`) keeps the OSCORE
    /// sequence file, and nil keeps nothing (tests).
    public init(backend: any ConstrainedBackend, keys: CoAPAccessKeys, stateDirectory: String?, logger: Logger) throws(ConstrainedAPIError) {
        self.backend = backend
        self.keys = keys
        self.logger = logger
        self.notifier = ChangeNotifier(backend: backend)
        do {
            let file = try stateDirectory.map { d throws(OSCOREError) in try OSCORESequenceFile(directory: d) }
            oscore = try OSCOREServer(clients: keys.oscoreContexts, file: file)
        } catch {
            throw .failed("the CoAP interface's OSCORE state: \(error)")
        }
    }

    /// Endpoint settings: OSCORE in front of the resources, the token option understood.
    public var endpointConfiguration: CoAPEndpoint.Configuration {
        var c = CoAPEndpoint.Configuration()
        c.security = oscore
        // Known even when tokens are refused, so a token gets a 4.01 saying why, not a 4.02.
        c.messageLayer.additionalKnownOptions.insert(CoAPAccessKeys.tokenOption)
        // Activation may pull an image; acknowledge early, answer separately.
        c.separateResponseDelay = 0.5
        c.block1.maxBodySize = 64 << 10
        // Who may send a body is decided before its first block is buffered.
        c.admit = { [self] message, _, client in
            if case .refused(let refusal) = authorize(message, client: client) { return refusal }
            return nil
        }
        return c
    }

    public var resources: [CoAPResource] {
        [
            CoAPResource(
                path: "/services", resourceTypes: ["pier.services"], interfaces: ["core.c"],
                contentFormats: [CoAPContentFormat.json], title: "services of this \(backend.role)", observable: true,
                servesSubpaths: true
            ) { [self] request in await handle(request) }
        ]
    }

    /// Binds `udp://HOST:PORT`, serves until the channel closes or the task is cancelled.
    public func run(address: String) async throws {
        let (host, port) = try Self.parse(address)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
        } catch {
            throw ConstrainedAPIError.failed("--coap \(address): cannot listen: \(error)")
        }
        let endpoint = try await CoAPEndpoint.attach(to: channel, resources: resources, configuration: endpointConfiguration)
        await notifier.start(endpoint)
        logger.info("CoAP interface ready", metadata: [
            "address": "udp://\(host):\(channel.localAddress?.port ?? port)", "clients": "\(keys.clientNames.joined(separator: ","))",
            "tokens": "\(keys.allowsTokens ? "accepted (--coap-insecure-token)" : "refused")",
        ])
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// `udp://HOST:PORT` → host and port.
    public static func parse(_ address: String) throws(ConstrainedAPIError) -> (String, Int) {
        guard address.hasPrefix("udp://") else { throw .invalid("--coap \(address): expected udp://HOST:PORT") }
        let rest = address.dropFirst("udp://".count)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (0...65535).contains(port) else {
            throw .invalid("--coap \(address): expected udp://HOST:PORT with a port from 0 to 65535")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    // MARK: Requests

    enum Authentication {
        case client(CoAPAccessKeys.Client)
        case refused(CoAPResponse)
    }

    /// The client a request comes from: its OSCORE context, or its token when tokens are allowed.
    func authenticate(_ request: CoAPRequest) -> Authentication { authenticate(request.message, client: request.client) }

    func authenticate(_ message: CoAPMessage, client: String?) -> Authentication {
        if let name = client {
            guard let client = keys.client(named: name) else {
                return .refused(CoAPResponse(code: .unauthorized, diagnostic: "client \(name) is not in the keys file"))
            }
            return .client(client)
        }
        if message.option(CoAPAccessKeys.tokenOption) != nil {
            guard keys.allowsTokens else {
                return .refused(CoAPResponse(
                    code: .unauthorized,
                    diagnostic: "client tokens are refused: they travel in clear; use OSCORE (the daemon accepts tokens only with --coap-insecure-token)"))
            }
            if let client = keys.tokenClient(for: message) { return .client(client) }
            return .refused(CoAPResponse(code: .unauthorized, diagnostic: "unknown client token"))
        }
        return .refused(CoAPResponse(
            code: .unauthorized,
            diagnostic: "protect the request with OSCORE using your client's context (pier coap client create)"
                + (keys.allowsTokens ? ", or send a client token in option 65001" : "")))
    }

    /// What a request may do, decided from its options alone: who sent it, the route, and the
    /// client's scope. Used before any block of a body is buffered and again when it is served.
    enum Authorization {
        case allowed(CoAPAccessKeys.Client, ConstrainedRoute, service: String?)
        case refused(CoAPResponse)
    }

    func authorize(_ message: CoAPMessage, client name: String?) -> Authorization {
        let client: CoAPAccessKeys.Client
        switch authenticate(message, client: name) {
        case .client(let c): client = c
        case .refused(let refusal): return .refused(refusal)
        }
        let parts = message.uriPath
        guard let (route, service) = ConstrainedRoute.match(message.code, parts) else {
            if ConstrainedRoute.hasPath(parts) {
                return .refused(CoAPResponse(code: .methodNotAllowed, diagnostic: "\(message.path) does not answer \(Self.methodName(message.code))"))
            }
            return .refused(CoAPResponse(code: .notFound, diagnostic: "no resource at \(message.path)"))
        }
        guard client.scope.verbs.contains(route.verb) else {
            return .refused(CoAPResponse(
                code: .forbidden,
                diagnostic: "client \(client.name) may not \(route.verb.rawValue): its scope allows \(client.scope.verbs.map(\.rawValue).sorted().joined(separator: ", "))"))
        }
        if let service, !client.scope.covers(service) {
            return .refused(CoAPResponse(code: .forbidden, diagnostic: "service \(service) is outside client \(client.name)'s scope"))
        }
        return .allowed(client, route, service: service)
    }

    func handle(_ request: CoAPRequest) async -> CoAPResponse {
        let client: CoAPAccessKeys.Client
        let route: ConstrainedRoute
        let service: String?
        switch authorize(request.message, client: request.client) {
        case .allowed(let c, let r, let s): (client, route, service) = (c, r, s)
        case .refused(let refusal): return refusal
        }
        let name = service ?? ""  // every row but /services has one
        do {
            switch route.verb {
            case .list:
                return try Self.json(.content, await backend.list().filter { client.scope.covers($0.name) })
            case .status:
                return try Self.json(.content, await backend.status(name))
            case .activate:
                let format = request.message.option(.contentFormat)?.uintValue
                guard format == nil || format == CoAPContentFormat.json || format == CoAPContentFormat.cbor else {
                    return CoAPResponse(code: .unsupportedContentFormat, diagnostic: "send the activation as JSON (50) or CBOR (60)")
                }
                let activation = try ActivationRequest.parse(
                    request.payload, name: name, cluster: backend.role == "manager", cbor: format == CoAPContentFormat.cbor)
                try client.scope.permit(activation, client: client.name)
                let created = try await backend.activate(name, activation, client: client.name)
                logger.info("CoAP activation", metadata: ["client": "\(client.name)", "service": "\(name)", "image": "\(activation.container.image)"])
                var response = try Self.json(created ? .created : .changed, await backend.status(name))
                if created { response.options += ["services", name].map { CoAPOption(.locationPath, string: $0) } }
                return response
            case .remove:
                try await backend.remove(name)
                logger.info("CoAP removal", metadata: ["client": "\(client.name)", "service": "\(name)"])
                return CoAPResponse(code: .deleted)
            case .stop:
                try await backend.stop(name)
                return try Self.json(.changed, await backend.status(name))
            case .start:
                try await backend.start(name)
                return try Self.json(.changed, await backend.status(name))
            }
        } catch {
            let e = (error as? ConstrainedAPIError) ?? backend.translate(error)
            switch e {
            case .invalid(let m): return CoAPResponse(code: .badRequest, diagnostic: m)
            case .forbidden(let m): return CoAPResponse(code: .forbidden, diagnostic: m)
            case .notFound(let m): return CoAPResponse(code: .notFound, diagnostic: m)
            case .conflict(let m): return CoAPResponse(code: CoAPCode(4, 9), diagnostic: m)  // 4.09 Conflict (RFC 8132)
            case .failed(let m): return CoAPResponse(code: .internalServerError, diagnostic: m)
            }
        }
    }

    static func methodName(_ code: CoAPCode) -> String {
        [CoAPCode.get: "GET", .post: "POST", .put: "PUT", .delete: "DELETE", .fetch: "FETCH"][code] ?? "\(code)"
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return e
    }()

    static func json(_ code: CoAPCode, _ value: some Encodable) throws -> CoAPResponse {
        CoAPResponse(code: code, options: [CoAPOption(.contentFormat, uint: CoAPContentFormat.json)], payload: Array(try encoder.encode(value)))
    }
}

/// Turns the backend's change callbacks into notifications for the paths whose status changed:
/// `/services/NAME` for each service that changed or went, `/services` when anything did.
actor ChangeNotifier {
    let backend: any ConstrainedBackend
    private var endpoint: CoAPEndpoint?
    private var last: [String: ConstrainedServiceStatus] = [:]
    private var scheduled = false

    init(backend: any ConstrainedBackend) { self.backend = backend }

    func start(_ endpoint: CoAPEndpoint) async {
        self.endpoint = endpoint
        last = Dictionary(((try? await backend.list()) ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        await backend.onChange { [weak self] in
            guard let self else { return }
            Task { await self.changed() }
        }
    }

    /// Coalesces a burst of changes into one comparison.
    func changed() async {
        guard !scheduled else { return }
        scheduled = true
        try? await Task.sleep(for: .milliseconds(20))
        scheduled = false
        guard let endpoint, let now = try? await backend.list() else { return }
        let current = Dictionary(now.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let changedNames = Set(current.keys).union(last.keys).filter { current[$0] != last[$0] }
        last = current
        guard !changedNames.isEmpty else { return }
        for name in changedNames { endpoint.notifyChanged("/services/\(name)") }
        endpoint.notifyChanged("/services")
    }
}
