import PierSpec
import ArgumentParser
import Foundation
import PierClient
import PierAgent
import PierManager

/// `pier manager`: the Edge Manager alone (it keeps images for its registry, runs no tasks).
struct ManagerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manager",
        abstract: "Run the Edge Manager: cluster state, scheduling, the CA and the agents' endpoint.",
        discussion: "State lives in SQLite under --data-root. unix:// addresses serve the full API to local "
            + "clients; tcp:// addresses serve agents and remote clients over mutual TLS (agents join with "
            + "`pier agent --join tcp://HOST:PORT --token $(pier join-token -q worker)`).\n\n"
            + "The state is copied to manager.db.backup at every start and every 30 seconds while it changes. A manager "
            + "whose state database cannot be used starts degraded: it answers GET /v1/cluster with the problem, refuses "
            + "everything else, schedules nothing, and agents keep their tasks running; `pier manager recover` restores the backup.",
        subcommands: [ManagerRecover.self]
    )

    @OptionGroup var options: ManagerOptions

    func run() async throws {
        try await ManagerService.run(options.makeConfiguration(localWorker: false), agent: options.agentConfiguration)
    }
}

/// The options `pier manager` and `pier up` share.
struct ManagerOptions: ParsableArguments {
    @OptionGroup var daemon: DaemonOptions

    @Option(help: ArgumentHelp("Extra names or addresses for the manager's certificate (repeatable).", valueName: "NAME"))
    var advertise: [String] = []

    @Option(help: "Seconds between agent heartbeats.")
    var heartbeat: Double = 0.5

    @Option(help: "Seconds without a heartbeat before a node is down and its tasks move.")
    var heartbeatGrace: Double = 1.5

    @Option(help: ArgumentHelp(
        "Validity of the node and client certificates the manager issues, as Swarm's --cert-expiry: e.g. 2160h (90 days), 30m (at least 10s; short values are for tests).",
        discussion: "Agents renew theirs when a third of it is left, also during a long-lived session.", valueName: "duration"))
    var certExpiry: String = "2160h"

    @Option(help: ArgumentHelp(
        "How long an update that changes a service's image waits for the nodes to download it before replacing tasks, e.g. 10m.",
        discussion: "Updates stage the new image on the nodes of the tasks they replace first (download-then-switch), so a slow link costs time, not downtime; after this long they go on and the nodes pull as they start the new tasks.",
        valueName: "duration"))
    var updateStageTimeout: String = "10m"

    @Flag(help: ArgumentHelp(
        "Let anyone who reaches a tcp:// address pull from the registry, without a certificate or credential.",
        discussion: "Pushes and deletes still need an admin or operator certificate (pier cert create) or a push credential (pier registry credential create)."))
    var registryAnonymousPull = false

    func validate() throws {
        guard heartbeat > 0, heartbeatGrace > heartbeat else {
            throw ValidationError("--heartbeat must be > 0 and --heartbeat-grace larger than it")
        }
        guard GoDuration.seconds(updateStageTimeout) != nil else {
            throw ValidationError("--update-stage-timeout \(updateStageTimeout): give a duration such as 10m, or 0s not to wait")
        }
        guard let seconds = GoDuration.seconds(certExpiry), seconds >= 10 else {
            throw ValidationError("--cert-expiry \(certExpiry): give a duration of at least 10s, e.g. 2160h or 30m")
        }
    }

    /// The agent side of this process: data root, local sockets, runc, bridge.
    var agentConfiguration: AgentConfiguration {
        daemon.agentConfiguration(listen: daemon.listen.filter { !$0.hasPrefix("tcp://") })
    }

    func makeConfiguration(localWorker: Bool) -> ManagerService.Configuration {
        let agent = agentConfiguration
        let tcp = daemon.listen.filter { $0.hasPrefix("tcp://") }
        var manager = Manager.Configuration()
        manager.heartbeatSeconds = heartbeat
        manager.heartbeatGrace = heartbeatGrace
        manager.stageTimeout = GoDuration.seconds(updateStageTimeout) ?? 600
        var configuration = ManagerService.Configuration(
            dataRoot: agent.dataRoot, listen: agent.listen, socketGroup: agent.socketGroup, trustedKeys: agent.trustedKeys,
            coap: agent.coap, maxRequestBody: agent.maxRequestBody, remoteListen: tcp, localWorker: localWorker,
            hostname: daemon.hostname, advertise: advertise, manager: manager,
            nodeCertificateValidity: GoDuration.seconds(certExpiry) ?? 90 * 86400)
        configuration.registryAnonymousPull = registryAnonymousPull
        return configuration
    }
}

/// `pier up`: manager and agent in one process, the single-gateway default.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run manager and agent in one process on this gateway (the embedded default).",
        discussion: "Everything `pier manager` does, plus this host's agent as a node of the cluster: services and "
            + "stacks deployed here run here, and other devices can join with a token."
    )

    @OptionGroup var options: ManagerOptions

    @OptionGroup(title: "Cluster network") var mesh: MeshFlags

    func run() async throws {
        var agent = options.agentConfiguration
        agent.mesh = mesh.options
        try await ManagerService.run(options.makeConfiguration(localWorker: true), agent: agent)
    }
}
