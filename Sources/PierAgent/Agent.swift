import Foundation
import Hummingbird
import Logging
import PierAccess
import PierAPI
import PierCoAPAPI
import PierOCI
import PierPKI
import PierRegistry

/// `pier agent`: opens the node's state, adopts the containers a previous agent left
/// running, and serves the API until SIGTERM or SIGINT. Containers keep running when it stops.
public struct Agent: Sendable {
    public static let version = "0.1.0"
    public let configuration: AgentConfiguration

    public init(configuration: AgentConfiguration) { self.configuration = configuration }

    /// Serves the agent; joins or rejoins a cluster when `cluster` says so or this node joined before.
    public func run(cluster: ClusterOptions? = nil) async throws {
        Self.usePrivateUmask()
        let node = try await AgentNode.open(configuration: configuration)
        defer { node.release() }
        let membership = ClusterMembership(dataRoot: configuration.dataRoot)
        if let cluster, let address = cluster.managerAddress, let token = cluster.token {
            if membership.isJoined, (try? membership.managerAddress()) == (try? ManagerAddress(parsing: address)).map({ "tcp://\($0.urlHost):\($0.port)" }) {
                node.logger.info("already joined to \(address); reconnecting with the stored certificate")
            } else {
                let identity = try await membership.join(address: address, token: token, hostname: cluster.hostname)
                node.logger.info("joined the cluster at \(address) as node \(identity.nodeID)")
            }
        }
        let router = Self.localRouter(node: node)
        let trust: NodeTrust?
        do { trust = membership.isJoined ? try NodeTrust(membership: membership) : nil } catch {
            throw AgentError.failed("cannot load this node's cluster identity from \(membership.directory.path): \(error)")
        }
        let coap = try configuration.coap.map { options in
            (options.address, try ConstrainedInterface(
                backend: AgentConstrainedBackend(containers: node.containers),
                keys: try CoAPAccessKeys.load(options.keysPath, allowTokens: options.insecureToken),
                stateDirectory: options.stateDirectory(dataRoot: configuration.dataRoot), logger: node.logger))
        }
        try await node.serve { try await withThrowingTaskGroup(of: Void.self) { group in
            if let (address, interface) = coap { group.addTask { try await interface.run(address: address) } }
            let tcp = configuration.listen.filter { $0.hasPrefix("tcp://") }
            for app in try Self.unixApplications(
                configuration.listen.filter { !$0.hasPrefix("tcp://") }, router: router, serverName: "pier-agent",
                group: configuration.socketGroup, logger: node.logger
            ) {
                group.addTask { try await app.runService() }
            }
            for app in try Self.directApplications(tcp, node: node, trust: trust) {
                group.addTask { try await app.runService() }
            }
            if let problem = node.degraded {
                node.logger.critical("degraded: \(problem); serving status only, not taking part in the cluster. Run `pier agent recover`")
            } else if let trust {
                await node.containers.setImageFetcher { reference in try await node.fetchFromManager(reference, membership: membership) }
                let transport = WebSocketSessionTransport(membership: membership, trust: trust, logger: node.logger)
                let agent = ClusterAgent(
                    node: node, configuration: .init(hostname: cluster?.hostname ?? ProcessInfo.processInfo.hostName, devices: cluster?.devices ?? []),
                    transport: transport,
                    fetchImage: { reference in try await node.fetchFromManager(reference, membership: membership) },
                    onTrust: { update in await transport.apply(update) })
                group.addTask { try await agent.run() }
            }
            node.logger.info("pier agent ready", metadata: ["dataRoot": "\(configuration.dataRoot.path)", "listen": "\(configuration.listen)"])
            try await group.next()
            group.cancelAll()
        } }
    }

    /// What a daemon writes is its own: keys, databases, tokens, logs (umask 077, process-wide,
    /// so only the daemons' entry points set it). Files containers see (layers, /etc/hosts, the
    /// rootfs) set their modes explicitly, and the shim gives runc 022.
    public static func usePrivateUmask() { umask(0o077) }

    /// One Hummingbird application per `unix://PATH` address, serving `router`. Each socket is
    /// mode 0660, owned by root and by `group` when one is given (`--socket-group`), root's alone
    /// otherwise; a missing parent directory is made 0755 so that the group can reach it.
    public static func unixApplications<Context: RequestContext>(
        _ addresses: [String], router: Router<Context>, serverName: String, group: UInt32? = nil, logger: Logger
    ) throws -> [Application<RouterResponder<Context>>] where Context.Source == ApplicationRequestContextSource {
        let fm = FileManager.default
        return try addresses.map { address in
            guard address.hasPrefix("unix://") else {
                throw AgentError.invalid("--listen \(address): only unix://PATH is supported here")
            }
            let path = String(address.dropFirst("unix://".count))
            try? fm.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o755])
            if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
            return Application(
                router: router, server: .http1(configuration: HTTPServerLimits().http1),
                configuration: .init(address: .unixDomainSocket(path: path), serverName: serverName),
                onServerRunning: { _ in
                    if let group { chown(path, uid_t.max, gid_t(group)) }
                    chmod(path, 0o660)
                }, logger: logger)
        }
    }

    static var architecture: String {
        #if arch(x86_64)
        "amd64"
        #elseif arch(arm64)
        "arm64"
        #elseif arch(arm)
        "arm"
        #else
        "unknown"
        #endif
    }
}

/// How `pier agent` takes part in a cluster: the manager to join and the token (first start
/// only), the node's name and the devices it offers besides those found in /dev.
public struct ClusterOptions: Sendable {
    public var managerAddress: String?
    public var token: String?
    public var hostname: String
    public var devices: [String]
    public init(managerAddress: String? = nil, token: String? = nil, hostname: String, devices: [String] = []) {
        self.managerAddress = managerAddress; self.token = token; self.hostname = hostname; self.devices = devices
    }
}

/// A started agent: its state open, the containers a previous agent left running adopted.
/// `pier agent` serves it; `pier up` serves it beside the manager in one process.
public final class AgentNode: Sendable {
    public let configuration: AgentConfiguration
    public let logger: Logger
    let lock: DataRootLock
    let containers: ContainerManager
    let images: ImageBackend
    let runtime: RuntimeBackend
    /// The node's side of the cluster network: leased subnet, key, mesh interface.
    public let mesh: NodeMesh

    private init(configuration: AgentConfiguration, logger: Logger, lock: DataRootLock, containers: ContainerManager, images: ImageBackend,
                 runtime: RuntimeBackend, mesh: NodeMesh) {
        self.configuration = configuration; self.logger = logger; self.lock = lock
        self.containers = containers; self.images = images; self.runtime = runtime; self.mesh = mesh
    }

    public static func open(configuration: AgentConfiguration) async throws -> AgentNode {
        var logger = Logger(label: "pier.agent")
        logger.logLevel = ProcessInfo.processInfo.environment["PIER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let fm = FileManager.default
        do { try SecretFile.secureDirectory(configuration.dataRoot) } catch {
            throw AgentError.failed("data root: \(error)")
        }
        try fm.createDirectory(at: configuration.containersRoot, withIntermediateDirectories: true)
        let lock = try DataRootLock(configuration.dataRoot.appendingPathComponent("agent.lock"))
        do {
            // Uploads of a killed agent are never half-imported: they only ever lived here.
            try? fm.removeItem(at: configuration.dataRoot.appendingPathComponent("tmp"))
            let database = AgentDatabase.open(path: configuration.databasePath, containersRoot: configuration.containersRoot)
            let images = try await ImageBackend(configuration: configuration)
            // A stored lease: containers get addresses from the node's subnet, with or without the manager.
            let mesh = NodeMesh(configuration: .init(dataRoot: configuration.dataRoot, options: configuration.mesh, bridge: configuration.bridgeName),
                                logger: logger)
            let runtime = try RuntimeBackend(configuration: configuration, bridgeNetwork: mesh.bridgeConfiguration)
            await mesh.attach(runtime.runtime.network)
            if let problem = runtime.runtime.isolationProblem { logger.warning("isolation: \(problem)") }
            let manager = ContainerManager(configuration: configuration, database: database, images: images,
                                           runtime: runtime, logger: logger)
            await manager.adopt()
            return AgentNode(configuration: configuration, logger: logger, lock: lock, containers: manager, images: images, runtime: runtime, mesh: mesh)
        } catch {
            lock.release()
            throw error
        }
    }

    public func release() { lock.release() }

    /// Why this node cannot use its state (it then manages no container), or nil.
    public var degraded: String? { containers.database.problem }

    /// Runs `body` (the node's servers); when it ends, removes what the runtime kept ready
    /// ahead of need (pooled network namespaces), so that a stopped agent leaves none behind.
    public func serve(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await releaseStandby()
            throw error
        }
        await releaseStandby()
    }

    private func releaseStandby() async {
        for problem in await runtime.releaseStandby() { logger.warning("network pool: \(problem)") }
    }

    /// The content store and references behind the image API, which a registry serves and a pull fills.
    public var contentStore: LocalContentStore { images.service.content }
    public var imageStore: ImageStore { images.service.images }

    /// Makes `reference` present locally: pulled from the cluster manager's registry over
    /// mutual TLS (the server must hold a manager's certificate) unless the store already has it.
    func fetchFromManager(_ reference: String, membership: ClusterMembership) async throws {
        if (try? await images.runnable(reference)) != nil { return }
        let identity = try membership.identity()
        let address = try ManagerAddress(parsing: try membership.managerAddress())
        let tls = try ClientTLS(identity: identity, server: .manager)
        guard let url = URL(string: "https://\(tls.serverName):\(address.port)") else {
            throw ClusterJoinError.unreachable("\(address.host):\(address.port)")
        }
        var settings = images.transfers.baseConfiguration()
        settings.tlsConfiguration = tls.configuration
        settings.dnsOverride = [tls.serverName: address.host]
        let client = try RegistryClient(baseURL: url, content: contentStore, images: imageStore, configuration: settings)
        do {
            let result = try await client.pull(reference)
            logger.info("pulled \(reference) from the manager", metadata: ["bytes": "\(result.fetchedBytes)"])
            if !configuration.trustedKeys.isEmpty {
                // Under a signing policy the image's signature comes along (the manager has it,
                // or it would not have accepted the service).
                var repository = reference
                if let at = repository.firstIndex(of: "@") { repository = String(repository[..<at]) }
                if let colon = repository.lastIndex(of: ":"), !repository[colon...].contains("/") { repository = String(repository[..<colon]) }
                let named = try ImageReference(parsing: repository)
                if !(try await client.pullSignature(repository: named.path, of: result.manifest, tagAs: named)) {
                    logger.warning("the manager has no signature of \(reference)")
                }
            }
            try? await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Throws unless the image is signed by one of `trusted` (the signing policy).
    public func requireSignature(_ reference: String, trusted: [TrustedKey]) async throws {
        do { try await images.requireSignature(reference, trusted: trusted) } catch let error as AgentError {
            throw AgentError.forbidden(error.description)
        }
    }

    /// The image a reference names, pinned to its manifest digest (`name@sha256:…`), so every
    /// node runs the same bytes; fails if the store lacks it.
    public func pinnedReference(_ reference: String) async throws -> String {
        let image = try await images.runnable(reference)
        var name = image.reference
        if let at = name.firstIndex(of: "@") { name = String(name[..<at]) }
        if let colon = name.lastIndex(of: ":"), !name[colon...].contains("/") { name = String(name[..<colon]) }
        if name.hasPrefix("sha256:") { return image.digest }
        return name + "@" + image.digest
    }

    /// Adds the agent's API (`/v1/info`, `/v1/containers…`, `/v1/images…`) to `router`, whose
    /// authorization middleware (`AccessPolicy.agentAPI`) sets the caller.
    /// ``Agent/unixApplications(_:router:serverName:group:logger:)``, each as the function that runs it.
    public func unixServers<Context: RequestContext>(
        _ addresses: [String], router: Router<Context>, serverName: String, group: UInt32?, logger: Logger
    ) throws -> [@Sendable () async throws -> Void] where Context.Source == ApplicationRequestContextSource {
        try Agent.unixApplications(addresses, router: router, serverName: serverName, group: group, logger: logger).map { app in
            { try await app.runService() }
        }
    }

    public func addRoutes<Context: RequestContext & CallerCarrying>(to router: Router<Context>) {
        server(Context.self).addRoutes(to: router)
    }

    /// Adds only the image API, for a manager that keeps images but runs no containers.
    public func addImageRoutes<Context: RequestContext & CallerCarrying>(to router: Router<Context>) {
        server(Context.self).addImageRoutes(router.group("v1"))
    }

    private func server<Context: RequestContext & CallerCarrying>(_: Context.Type) -> AgentServer<Context> {
        let manager = containers, images = images, runtime = runtime, configuration = configuration
        return AgentServer<Context>(manager: manager, images: images, configuration: configuration) {
            let all = (try? await manager.list(all: true)) ?? []
            let problem = manager.database.problem.map(AgentDatabase.unavailableMessage)
            return AgentInfo(
                version: Agent.version, hostname: ProcessInfo.processInfo.hostName,
                dataRoot: configuration.dataRoot.path, runtime: runtime.runcDescription,
                os: "linux", architecture: Agent.architecture, cpus: ProcessInfo.processInfo.activeProcessorCount,
                memoryBytes: ProcessInfo.processInfo.physicalMemory, containers: all.count,
                running: all.filter { $0.state == .running }.count, images: await images.count(), network: runtime.networkInfo,
                isolation: runtime.isolation, degraded: problem, notices: await manager.notices())
        }
    }
}

/// An exclusive lock on the data root, so two agents never share one (nor an agent and a
/// `recover` command).
public final class DataRootLock: Sendable {
    private let fd: Int32

    /// Locks `DATA_ROOT/agent.lock`; fails when an agent, manager or `pier up` uses the data root.
    public convenience init(dataRoot: URL) throws { try self.init(dataRoot.appendingPathComponent("agent.lock")) }

    init(_ path: URL) throws {
        fd = open(path.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.failed("cannot open \(path.path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw AgentError.conflict("another pier agent is using \(path.deletingLastPathComponent().path); stop it first or use another --data-root")
        }
    }
    public func release() { flock(fd, LOCK_UN); close(fd) }
}
