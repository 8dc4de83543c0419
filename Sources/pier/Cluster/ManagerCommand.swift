import PierSpec
import ArgumentParser
import Foundation
import PierClient
import PierAgent
import PierManager
import PierCluster

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

    @Option(name: .customLong("cluster-cidr"), help: ArgumentHelp(
        "The IPv4 range node subnets are leased from.",
        discussion: "Each node gets a subnet of it (see --node-prefix) on joining and keeps it; its containers get addresses "
            + "from it. Fixed at the cluster's first start: a later start with another range is refused. It must not overlap "
            + "a network of this host or of the nodes.",
        valueName: "CIDR"))
    var clusterCIDR: String = "10.89.0.0/16"

    @Option(help: ArgumentHelp("The prefix length of each node's subnet (a /24 holds 253 containers).", valueName: "N"))
    var nodePrefix: Int = 24

    @Option(help: ArgumentHelp(
        "How traffic between nodes travels: wireguard (encrypted, crosses NAT) or vxlan (unencrypted, one trusted LAN, no NAT).",
        valueName: "wireguard|vxlan"))
    var dataPath: String = DataPath.wireguard.rawValue

    @Option(help: ArgumentHelp(
        "The MTU of the mesh and of the containers' interfaces on every node.",
        discussion: "Default: each node's underlay MTU minus the tunnel's overhead (80 for WireGuard, 50 for VXLAN).", valueName: "N"))
    var meshMTU: Int?

    @Option(help: ArgumentHelp(
        "How long a removed node's subnet stays reserved before another node may get it, e.g. 1h.",
        discussion: "Containers of a node removed while cut off may still use its addresses; 0s reuses at once.", valueName: "duration"))
    var subnetGrace: String = "1h"

    /// The cluster network settings these flags give, or the flag that is wrong.
    func networkSettings() throws -> ClusterNetworkSettings {
        let range: IPv4Network
        do { range = try IPv4Network(parsing: clusterCIDR, requireNetwork: true) } catch {
            throw ValidationError("--cluster-cidr: \(error)")
        }
        guard let path = DataPath(rawValue: dataPath) else {
            throw ValidationError("--data-path \(dataPath.prefix(32)): expected wireguard or vxlan")
        }
        guard let grace = GoDuration.seconds(subnetGrace), grace >= 0 else {
            throw ValidationError("--subnet-grace \(subnetGrace.prefix(32)): \(GoDuration.expected), or 0s")
        }
        let settings = ClusterNetworkSettings(range: range, nodePrefix: nodePrefix, dataPath: path, mtu: meshMTU, releaseGraceSeconds: grace)
        do { try settings.validate() } catch {
            let flag = switch error {
            case .nodePrefixTooLong, .rangeTooSmall: "--cluster-cidr/--node-prefix"
            case .mtuOutOfRange: "--mesh-mtu"
            case .graceOutOfRange: "--subnet-grace"
            default: "--cluster-cidr"
            }
            throw ValidationError("\(flag): \(error)")
        }
        return settings
    }

    func validate() throws {
        _ = try networkSettings()
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
        // validate() has checked them.
        if let network = try? networkSettings() { manager.network = network }
        var configuration = ManagerService.Configuration(
            dataRoot: agent.dataRoot, listen: agent.listen, socketGroup: agent.socketGroup, trustedKeys: agent.trustedKeys,
            coap: agent.coap, maxRequestBody: agent.maxRequestBody, remoteListen: tcp, localWorker: localWorker,
            hostname: daemon.hostname, advertise: advertise, manager: manager,
            nodeCertificateValidity: GoDuration.seconds(certExpiry) ?? 90 * 86400)
        configuration.registryAnonymousPull = registryAnonymousPull
        configuration.bridgeName = agent.bridgeName
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
