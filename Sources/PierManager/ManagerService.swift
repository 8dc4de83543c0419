import Foundation
import NIOCore
import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOSSL
import PierAgent
import PierAccess
import PierAPI
import PierCluster
import PierCoAPAPI
import PierPKI
import PierRegistry

/// `pier manager` and `pier up`: the manager's state, CA and API, the image store its
/// registry serves, and, for `pier up`, this gateway's own agent as a node of the cluster.
public struct ManagerService: Sendable {
    public struct Configuration: Sendable {
        /// The agent side of this process: data root, local sockets, runc, bridge.
        public var agent: AgentConfiguration
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

        public init(agent: AgentConfiguration, remoteListen: [String] = [], localWorker: Bool, hostname: String = ProcessInfo.processInfo.hostName,
                    advertise: [String] = [], manager: Manager.Configuration = .init(), nodeCertificateValidity: TimeInterval = ClusterCA.defaultNodeValidity) {
            self.agent = agent; self.remoteListen = remoteListen; self.localWorker = localWorker; self.hostname = hostname
            self.advertise = advertise; self.manager = manager; self.nodeCertificateValidity = nodeCertificateValidity
        }

        var stateDatabase: URL { agent.dataRoot.appendingPathComponent("manager.db") }
        var pkiDirectory: URL { agent.dataRoot.appendingPathComponent("pki") }
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    public func run() async throws {
        let configuration = self.configuration
        let remotes = try configuration.remoteListen.map(RemoteAddress.init(parsing:))
        Agent.usePrivateUmask()
        let node = try await AgentNode.open(configuration: configuration.agent)
        defer { node.release() }
        let logger = { var l = node.logger; l[metadataKey: "role"] = "manager"; return l }()
        let store = try SQLiteStateStore(path: configuration.stateDatabase)
        let trusted = configuration.agent.trustedKeys
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
        let coap = try configuration.agent.coap.map { options in
            (options.address, try ConstrainedInterface(
                backend: ManagerConstrainedBackend(manager: manager),
                keys: try CoAPAccessKeys.load(options.keysPath, allowTokens: options.insecureToken),
                stateDirectory: options.stateDirectory(dataRoot: configuration.agent.dataRoot), logger: logger))
        }

        let registryAccess = try await RegistryAccessControl(
            manager: manager, keyFile: configuration.pkiDirectory.appendingPathComponent("registry-token.key"),
            anonymousPull: configuration.registryAnonymousPull)
        let parts = Parts(node: node, manager: manager, membership: membership, registry: registryAccess, maxBody: configuration.agent.maxRequestBody, logger: logger)
        let local = Self.localRouter(parts, localWorker: configuration.localWorker)

        try await node.serve { try await withThrowingTaskGroup(of: Void.self) { group in
            if let (address, interface) = coap { group.addTask { try await interface.run(address: address) } }
            for app in try Agent.unixApplications(
                configuration.agent.listen, router: local, serverName: "pier-manager", group: configuration.agent.socketGroup, logger: logger
            ) {
                group.addTask { try await app.runService() }
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
            group.addTask {
                // Renews the manager's own certificate in time and drops expired revocations.
                while !Task.isCancelled {
                    await membership.maintain()
                    try? await Task.sleep(for: .seconds(5))
                }
            }
            if configuration.localWorker {
                let nodeID = try await manager.localNodeID(hostname: configuration.hostname)
                let agent = ClusterAgent(
                    node: node, configuration: .init(hostname: configuration.hostname),
                    transport: LocalSessionTransport(manager: manager, nodeID: nodeID))
                group.addTask { try await agent.run() }
            }
            logger.info("pier manager ready", metadata: [
                "dataRoot": "\(configuration.agent.dataRoot.path)", "listen": "\(configuration.agent.listen + configuration.remoteListen)",
                "caFingerprint": "\(membership.caFingerprint)",
            ])
            try await group.next()
            group.cancelAll()
        } }
    }
}

extension ManagerService {
    /// What the manager's routers serve.
    struct Parts: Sendable {
        let node: AgentNode
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
