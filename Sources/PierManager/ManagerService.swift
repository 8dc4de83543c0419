import Foundation
import NIOCore
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOSSL
import PierAccess
import PierAPI
import PierCluster
import PierCoAPAPI
import PierOCI
import PierPKI
import PierRegistry

/// `pier manager` and `pier up`: the manager's state, CA and API, the image store its
/// registry serves, and, for `pier up`, this gateway's own agent as a node of the cluster.
public struct ManagerService: Sendable {
    public struct Configuration: Sendable {
        /// The data root the manager's state, CA and backups live in (the node's own).
        public var dataRoot: URL
        /// `unix://PATH` addresses of the local admin socket.
        public var listen: [String]
        /// The group the local sockets belong to (`--socket-group`).
        public var socketGroup: UInt32?
        /// Keys a service's image must be signed by (`--trust-key`); empty: no signing policy.
        public var trustedKeys: [TrustedKey]
        /// The CoAP interface for constrained clients, if one is served.
        public var coap: CoAPInterfaceOptions?
        /// The largest request body a route reads.
        public var maxRequestBody: Int
        /// `tcp://HOST:PORT` addresses where agents and remote clients connect (mutual TLS).
        public var remoteListen: [String]
        /// Run this host's own agent as a node (`pier up`); `pier manager` keeps images only.
        public var localWorker: Bool
        /// The local node's name.
        public var hostname: String
        /// Names and addresses put in the manager's certificate besides the listen hosts.
        public var advertise: [String]
        public var manager: Manager.Configuration
        /// Validity of node certificates issued at join (rotated when a third is left).
        public var nodeCertificateValidity: TimeInterval
        /// The registry serves pulls to anyone who reaches the TCP port; pushes still need a
        /// credential or an admin or operator certificate.
        public var registryAnonymousPull = false
        /// How often the state database is copied to `manager.db.backup` when it changed (and
        /// once at every start), for `pier manager recover`.
        public var backupInterval: Duration = .seconds(30)
        /// The bridge of this host's agent: its address comes from the cluster range, so it is
        /// not a network the range may not overlap (nor is any interface named `pier…`).
        public var bridgeName: String? = nil

        public init(dataRoot: URL, listen: [String], socketGroup: UInt32? = nil, trustedKeys: [TrustedKey] = [],
                    coap: CoAPInterfaceOptions? = nil, maxRequestBody: Int = 1 << 20,
                    remoteListen: [String] = [], localWorker: Bool, hostname: String = ProcessInfo.processInfo.hostName,
                    advertise: [String] = [], manager: Manager.Configuration = .init(), nodeCertificateValidity: TimeInterval = ClusterCA.defaultNodeValidity) {
            self.dataRoot = dataRoot; self.listen = listen; self.socketGroup = socketGroup; self.trustedKeys = trustedKeys
            self.coap = coap; self.maxRequestBody = maxRequestBody
            self.remoteListen = remoteListen; self.localWorker = localWorker; self.hostname = hostname
            self.advertise = advertise; self.manager = manager; self.nodeCertificateValidity = nodeCertificateValidity
        }

        public var stateDatabase: URL { dataRoot.appendingPathComponent("manager.db") }
        var pkiDirectory: URL { dataRoot.appendingPathComponent("pki") }
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Serves until cancelled or a server fails, on `node` (the caller opened it and releases
    /// it). With `localWorker` set in the configuration, `runLocalAgent` runs this node's agent
    /// as a member of the cluster, its session handed over in process.
    public func run(
        on node: some ManagerNode,
        runLocalAgent: @escaping @Sendable (_ manager: Manager, _ nodeID: String) async throws -> Void = { _, _ in }
    ) async throws {
        let configuration = self.configuration
        let remotes = try configuration.remoteListen.map(RemoteAddress.init(parsing:))
        let logger = { var l = node.logger; l[metadataKey: "role"] = "manager"; return l }()
        // A cluster range that shadows one of this host's networks is refused before anything starts.
        let bridge = configuration.bridgeName
        try configuration.manager.network.validate()
        try configuration.manager.network.validate(hostInterfaces: HostInterfaces.ipv4()) { HostInterfaces.isPiers($0, bridge: bridge) }
        let store: SQLiteStateStore
        do { store = try SQLiteStateStore(path: configuration.stateDatabase) } catch {
            return try await runDegraded(node: node, problem: "\(error)", logger: logger)
        }
        let trusted = configuration.trustedKeys
        let manager = try await Manager(store: store, configuration: configuration.manager, logger: logger) { reference in
            let pinned = try await node.pinnedReference(reference)
            // The signing policy (`--trust-key`): a service only gets an image a trusted key signed.
            if !trusted.isEmpty { try await node.requireSignature(pinned, trusted: trusted) }
            return pinned
        }
        let names = Set(remotes.map(\.host) + configuration.advertise + [configuration.hostname, "localhost", "127.0.0.1"])
        let membership = try await Membership(
            directory: configuration.pkiDirectory, manager: manager, nodeValidity: configuration.nodeCertificateValidity,
            serverNames: (
                dns: names.filter { IPAddressText.isIP($0) == false && RandomIDText.isValidName($0) }.sorted(),
                ips: names.filter { IPAddressText.isIP($0) }.sorted()))
        // The CoAP interface serves the cluster's services (CEMC), also under `pier up`.
        let coap = try configuration.coap.map { options in
            (options.address, try ConstrainedInterface(
                backend: ManagerConstrainedBackend(manager: manager),
                keys: try CoAPAccessKeys.load(options.keysPath, allowTokens: options.insecureToken),
                stateDirectory: options.stateDirectory(dataRoot: configuration.dataRoot), logger: logger))
        }

        let registryAccess = try await RegistryAccessControl(
            manager: manager, keyFile: configuration.pkiDirectory.appendingPathComponent("registry-token.key"),
            anonymousPull: configuration.registryAnonymousPull)
        let parts = Parts(node: node, manager: manager, membership: membership, registry: registryAccess, maxBody: configuration.maxRequestBody, logger: logger)
        let local = Self.localRouter(parts, localWorker: configuration.localWorker)

        try await node.serve { try await withThrowingTaskGroup(of: Void.self) { group in
            if let (address, interface) = coap { group.addTask { try await interface.run(address: address) } }
            for server in try node.unixServers(
                configuration.listen, router: local, serverName: "pier-manager", group: configuration.socketGroup, logger: logger
            ) {
                group.addTask { try await server() }
            }
            if !remotes.isEmpty {
                let trust = ClusterTrust(
                    anchors: membership.anchors,
                    membership: { identity in await membership.refusal(for: identity) },
                    onRefusal: { logger.warning("TLS peer refused: \($0)") })
                let tls = try ServerTLS(identity: membership.serving, trust: trust)
                for address in remotes {
                    let app = try Self.remoteApplication(parts, tls: tls, host: address.host, port: address.port)
                    group.addTask { try await app.runService() }
                }
            }
            group.addTask { await manager.run() }
            group.addTask { await Self.keepBackups(store, every: configuration.backupInterval, logger: logger) }
            group.addTask {
                // Renews the manager's own certificate in time and drops expired revocations.
                while !Task.isCancelled {
                    await membership.maintain()
                    try? await Task.sleep(for: .seconds(5))
                }
            }
            if configuration.localWorker, let problem = node.degraded {
                logger.critical("this node's agent is degraded: \(problem); it runs no tasks until `pier agent recover`")
            } else if configuration.localWorker {
                let nodeID = try await manager.localNodeID(hostname: configuration.hostname)
                group.addTask { try await runLocalAgent(manager, nodeID) }
            }
            logger.info("pier manager ready", metadata: [
                "dataRoot": "\(configuration.dataRoot.path)", "listen": "\(configuration.listen + configuration.remoteListen)",
                "caFingerprint": "\(membership.caFingerprint)",
            ])
            try await group.next()
            group.cancelAll()
        } }
    }
}

extension ManagerService {
    /// Copies the state to its backup now (the state just loaded and passed its checks) and
    /// then whenever it changed, every `interval`. A copy that fails its checks never replaces
    /// the previous backup.
    static func keepBackups(_ store: SQLiteStateStore, every interval: Duration, logger: Logger) async {
        var first = true
        while !Task.isCancelled {
            if first || store.writesSinceBackup > 0 {
                do { try store.backup() } catch { logger.error("state backup failed, the previous one is kept: \(error)") }
                first = false
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// A manager whose state cannot be used: it serves its local sockets only, answers
    /// `GET /v1/cluster` with the problem and every other manager request with 503 naming it and
    /// `pier manager recover`, and changes nothing (no reconciling, no agent sessions, no CoAP).
    /// With `pier up`, this node's own agent API is served as usual.
    func runDegraded(node: some ManagerNode, problem: String, logger: Logger) async throws {
        let message = "the manager's state cannot be used: \(problem). Nothing is scheduled or changed and agents keep their "
            + "tasks running as last assigned; stop the manager and run `pier manager recover` to restore the last good backup"
        logger.critical("degraded: \(message)")
        let local = Router(context: ManagerRequestContext.self)
        local.add(middleware: ManagerAuthorization(tls: nil, apis: [AccessPolicy.managerAPI, AccessPolicy.agentAPI]))
        if configuration.localWorker { node.addRoutes(to: local) } else { node.addImageRoutes(to: local) }
        for route in AccessPolicy.managerAPI.keys {
            let method = HTTPRequest.Method(route.method) ?? .get
            let path = RouterPath(route.path)
            if route == AccessPolicy.Route("GET", "/v1/cluster") {
                local.on(path, method: method) { _, _ in
                    await JSONResponses.respond {
                        ClusterInfo(clusterID: "", caFingerprint: "", nodes: 0, nodesReady: 0, services: 0, tasks: 0, version: "0.1.0", degraded: message)
                    }
                }
            } else {
                local.on(path, method: method) { _, _ in JSONResponses.error(ManagerError.unavailable(message)) }
            }
        }
        try await node.serve { try await withThrowingTaskGroup(of: Void.self) { group in
            for server in try node.unixServers(
                configuration.listen, router: local, serverName: "pier-manager", group: configuration.socketGroup, logger: logger
            ) {
                group.addTask { try await server() }
            }
            logger.info("pier manager ready (degraded)", metadata: ["dataRoot": "\(configuration.dataRoot.path)"])
            try await group.next()
            group.cancelAll()
        } }
    }

    /// What the manager's routers serve.
    struct Parts: Sendable {
        let node: any ManagerNode
        let manager: Manager
        let membership: Membership
        let registry: RegistryAccessControl
        let maxBody: Int
        let logger: Logger
    }

    /// The local admin socket: an admin without a certificate (only root can open it). With `pier
    /// up` it serves the agent's API too; with `pier manager` the agent's image routes.
    static func localRouter(_ parts: Parts, localWorker: Bool) -> Router<ManagerRequestContext> {
        let local = Router(context: ManagerRequestContext.self)
        local.add(middleware: ManagerAuthorization(tls: nil, apis: [AccessPolicy.managerAPI, AccessPolicy.agentAPI]))
        if localWorker { parts.node.addRoutes(to: local) } else { parts.node.addImageRoutes(to: local) }
        ManagerRoutes(manager: parts.manager, membership: parts.membership, registry: parts.registry, maxBody: parts.maxBody).add(to: local)
        return local
    }

    /// The TCP port's server: HTTP/1.1 and the session's WebSocket behind mutual TLS.
    static func remoteApplication(
        _ parts: Parts, tls: ServerTLS, host: String, port: Int, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let remote = remoteRouter(parts, tls: tls)
        return Application(
            router: remote,
            server: try .tls(
                .http1WebSocketUpgrade(
                    webSocketRouter: remote,
                    configuration: .init(http1: HTTPServerLimits().http1, ws: .init(maxFrameSize: SessionRoutes.maxMessage))),
                configuration: TLSChannelConfiguration(tlsConfiguration: tls.configuration, customVerificationCallback: tls.verificationCallback)),
            configuration: .init(address: .hostname(host, port: port), serverName: "pier-manager"),
            onServerRunning: onServerRunning, logger: parts.logger)
    }

    /// The TCP port: agents (join, session, renewal, the registry) and remote clients, each
    /// route decided by `AccessPolicy.managerAPI` for the caller its certificate names.
    static func remoteRouter(_ parts: Parts, tls: ServerTLS) -> Router<ManagerRequestContext> {
        let remote = Router(context: ManagerRequestContext.self)
        remote.add(middleware: ManagerAuthorization(tls: tls, apis: [AccessPolicy.managerAPI]))
        ManagerRoutes(manager: parts.manager, membership: parts.membership, registry: parts.registry, maxBody: parts.maxBody).add(to: remote)
        SessionRoutes(manager: parts.manager, membership: parts.membership, logger: parts.logger).add(to: remote)
        // The registry agents pull service images from, and that admins and operators push to
        // (`skopeo copy`, `docker push`): with a cluster certificate (decided per action by
        // `AccessPolicy.registry`), or with a bearer token from `/v1/registry/token` for a
        // registry credential, or anonymously for pulls when the cluster allows it.
        let registryAccess = parts.registry
        var registryConfiguration = RegistryRoutes<ManagerRequestContext>.Configuration(
            authorize: { request, context, action in
                guard let peer = context.peer else { return await registryAccess.authorize(request, action: action) }
                if let denied = AccessPolicy.authorizeRegistry(peer.caller, action: action.kind.rawValue) {
                    return .denied(denied.reason)
                }
                return .allow
            },
            push: .init())
        // Upload sessions are limited per certificate, or per address for token and anonymous clients.
        registryConfiguration.client = { _, context in
            context.peer?.nodeID ?? context.channel.remoteAddress?.ipAddress ?? "unknown"
        }
        RegistryRoutes<ManagerRequestContext>(
            content: parts.node.contentStore, images: parts.node.imageStore, configuration: registryConfiguration
        ).addRoutes(to: remote)
        return remote
    }
}

/// `tcp://HOST:PORT`.
struct RemoteAddress: Sendable {
    let host: String
    let port: Int
    init(parsing text: String) throws {
        guard text.hasPrefix("tcp://") else {
            throw ManagerError.invalid("--listen \(text): expected unix://PATH or tcp://HOST:PORT")
        }
        let rest = text.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (1...65535).contains(port) else {
            throw ManagerError.invalid("--listen \(text): expected tcp://HOST:PORT with a port from 1 to 65535")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }
}

enum RandomIDText {
    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
    }
}

extension Manager {
    /// The node id of this process's own agent (`pier up`), made and stored on first start.
    public func localNodeID(hostname: String) async throws -> String {
        if let id = metaValue("local.nodeID"), isMember(id) { return id }
        let id = Identifiers.make()
        _ = try await addNode(id: id, role: .manager, hostname: hostname)
        try await setMeta("local.nodeID", id)
        return id
    }
}
