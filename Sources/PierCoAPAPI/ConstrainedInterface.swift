import Foundation
import Logging
import NIOCore
import NIOPosix
import PierCoAP

/// The CoAP interface of an agent (the papers' CPIS) or a manager (CEMC), for constrained clients:
///
///     GET    /services                 every service, a JSON array of statuses
///     PUT    /services/NAME            activate: create and start (JSON body: image and options)
///     GET    /services/NAME            its status; with Observe, a notification on every change
///     POST   /services/NAME/stop       stop it and keep it (a manager scales it to 0)
///     POST   /services/NAME/start      start it again (agent)
///     DELETE /services/NAME            stop and remove it
///
/// Every request carries a client's token (`CoAPAccessKeys`); without a valid one it is
/// answered 4.01 and changes nothing.
public final class ConstrainedInterface: Sendable {
    let backend: any ConstrainedBackend
    let keys: CoAPAccessKeys
    let logger: Logger
    private let notifier: ChangeNotifier

    public init(backend: any ConstrainedBackend, keys: CoAPAccessKeys, logger: Logger) {
        self.backend = backend
        self.keys = keys
        self.logger = logger
        self.notifier = ChangeNotifier(backend: backend)
    }

    /// Endpoint settings: the auth option is one the application understands.
    public static var endpointConfiguration: CoAPEndpoint.Configuration {
        var c = CoAPEndpoint.Configuration()
        c.messageLayer.additionalKnownOptions.insert(CoAPAccessKeys.option)
        // Activation may pull an image; acknowledge early, answer separately.
        c.separateResponseDelay = 0.5
        c.block1.maxBodySize = 64 << 10
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
        let endpoint = try await CoAPEndpoint.attach(to: channel, resources: resources, configuration: Self.endpointConfiguration)
        await notifier.start(endpoint)
        logger.info("CoAP interface ready", metadata: [
            "address": "udp://\(host):\(channel.localAddress?.port ?? port)", "clients": "\(keys.clientNames.joined(separator: ","))",
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

    func handle(_ request: CoAPRequest) async -> CoAPResponse {
        guard let client = keys.client(for: request.message) else {
            return CoAPResponse(code: .unauthorized, diagnostic: "send a client token in option 65001 (Pier-Auth)")
        }
        let parts = request.message.uriPath
        let reads = request.method == .get
        guard reads || client.access == .readWrite else {
            return CoAPResponse(code: .forbidden, diagnostic: "client \(client.name) has read-only access")
        }
        do {
            switch (parts.count, request.method) {
            case (1, .get):
                return try Self.json(.content, await backend.list())
            case (1, _):
                return CoAPResponse(code: .methodNotAllowed, diagnostic: "/services answers GET; PUT /services/NAME activates one")
            case (2, .get):
                return try Self.json(.content, await backend.status(parts[1]))
            case (2, .put):
                let name = parts[1]
                let format = request.message.option(.contentFormat)?.uintValue
                guard format == nil || format == CoAPContentFormat.json || format == CoAPContentFormat.cbor else {
                    return CoAPResponse(code: .unsupportedContentFormat, diagnostic: "send the activation as JSON (50) or CBOR (60)")
                }
                let activation = try ActivationRequest.parse(
                    request.payload, name: name, cluster: backend.role == "manager", cbor: format == CoAPContentFormat.cbor)
                let created = try await backend.activate(name, activation, client: client.name)
                logger.info("CoAP activation", metadata: ["client": "\(client.name)", "service": "\(name)", "image": "\(activation.container.image)"])
                var response = try Self.json(created ? .created : .changed, await backend.status(name))
                if created { response.options += ["services", name].map { CoAPOption(.locationPath, string: $0) } }
                return response
            case (2, .delete):
                try await backend.remove(parts[1])
                logger.info("CoAP removal", metadata: ["client": "\(client.name)", "service": "\(parts[1])"])
                return CoAPResponse(code: .deleted)
            case (3, .post) where parts[2] == "stop":
                try await backend.stop(parts[1])
                return try Self.json(.changed, await backend.status(parts[1]))
            case (3, .post) where parts[2] == "start":
                try await backend.start(parts[1])
                return try Self.json(.changed, await backend.status(parts[1]))
            case (2, _), (3, _):
                return CoAPResponse(code: .methodNotAllowed, diagnostic: "\(request.path) does not answer \(request.method)")
            default:
                return CoAPResponse(code: .notFound, diagnostic: "no resource at \(request.path)")
            }
        } catch {
            let e = (error as? ConstrainedAPIError) ?? backend.translate(error)
            switch e {
            case .invalid(let m): return CoAPResponse(code: .badRequest, diagnostic: m)
            case .notFound(let m): return CoAPResponse(code: .notFound, diagnostic: m)
            case .conflict(let m): return CoAPResponse(code: CoAPCode(4, 9), diagnostic: m)  // 4.09 Conflict (RFC 8132)
            case .failed(let m): return CoAPResponse(code: .internalServerError, diagnostic: m)
            }
        }
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
