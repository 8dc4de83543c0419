import Foundation
import Hummingbird
import Logging
import PierAPI

/// `pier agent`: opens the node's state, adopts the containers a previous agent left
/// running, and serves the API until SIGTERM or SIGINT. Containers keep running when it stops.
public struct Agent: Sendable {
    public static let version = "0.1.0"
    public let configuration: AgentConfiguration

    public init(configuration: AgentConfiguration) { self.configuration = configuration }

    public func run() async throws {
        var logger = Logger(label: "pier.agent")
        logger.logLevel = ProcessInfo.processInfo.environment["PIER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let fm = FileManager.default
        try fm.createDirectory(at: configuration.dataRoot, withIntermediateDirectories: true)
        try fm.createDirectory(at: configuration.containersRoot, withIntermediateDirectories: true)
        let lock = try DataRootLock(configuration.dataRoot.appendingPathComponent("agent.lock"))
        defer { lock.release() }
        // Uploads of a killed agent are never half-imported: they only ever lived here.
        try? fm.removeItem(at: configuration.dataRoot.appendingPathComponent("tmp"))

        let database = try AgentDatabase(path: configuration.databasePath)
        let images = try await ImageBackend(configuration: configuration)
        let runtime = try RuntimeBackend(configuration: configuration)
        let manager = ContainerManager(configuration: configuration, database: database, images: images,
                                       runtime: runtime, logger: logger)
        await manager.adopt()

        let configuration = self.configuration
        let server = AgentServer(manager: manager, images: images, configuration: configuration) {
            let all = (try? await manager.list(all: true)) ?? []
            return AgentInfo(
                version: Agent.version, hostname: ProcessInfo.processInfo.hostName,
                dataRoot: configuration.dataRoot.path, runtime: runtime.runcDescription,
                os: "linux", architecture: Self.architecture, cpus: ProcessInfo.processInfo.activeProcessorCount,
                memoryBytes: ProcessInfo.processInfo.physicalMemory, containers: all.count,
                running: all.filter { $0.state == .running }.count, images: await images.count())
        }
        var apps: [Application<RouterResponder<BasicRequestContext>>] = []
        for address in configuration.listen {
            guard address.hasPrefix("unix://") else {
                throw AgentError.invalid("--listen \(address): only unix://PATH is supported by the agent for now")
            }
            let path = String(address.dropFirst("unix://".count))
            try? fm.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
            apps.append(Application(
                router: server.router(), configuration: .init(address: .unixDomainSocket(path: path), serverName: "pier-agent"),
                onServerRunning: { _ in chmod(path, 0o660) }, logger: logger))
        }
        logger.info("pier agent ready", metadata: ["dataRoot": "\(configuration.dataRoot.path)", "listen": "\(configuration.listen)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for app in apps { group.addTask { try await app.runService() } }
            try await group.next()
            group.cancelAll()
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

/// An exclusive lock on the data root, so two agents never share one.
final class DataRootLock: Sendable {
    private let fd: Int32
    init(_ path: URL) throws {
        fd = open(path.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AgentError.failed("cannot open \(path.path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw AgentError.conflict("another pier agent is using \(path.deletingLastPathComponent().path); stop it first or use another --data-root")
        }
    }
    func release() { flock(fd, LOCK_UN); close(fd) }
}
