import PierCoAPAPI
import ArgumentParser
import Foundation
import PierAgent
import PierOCI

/// Options every daemon role shares: where state lives, the local sockets, runc, the bridge.
struct DaemonOptions: ParsableArguments {
    @Option(help: "Directory for images, containers and state.")
    var dataRoot: String = "/var/lib/pier"

    @Option(help: ArgumentHelp("Where to serve the API (repeatable): unix://PATH, or tcp://HOST:PORT with mutual TLS (a joined agent: direct access for clients with a cluster certificate; a manager: agents and remote clients).", discussion: "Default: unix://DATA_ROOT/pier.sock.", valueName: "address"))
    var listen: [String] = []

    @Option(help: ArgumentHelp(
        "A group whose members may use the unix sockets (mode 0660, owner root); without it only root may.",
        discussion: "Members act as admin. The default socket lies inside the data root, which only root may enter: "
            + "give the group a socket outside it, e.g. --listen unix:///run/pier/pier.sock.",
        valueName: "name|gid"))
    var socketGroup: String?

    @Option(help: "The Linux bridge containers with --network bridge attach to.")
    var bridge: String = "pier0"

    @Option(help: ArgumentHelp(
        "Subnet of that bridge while the node has no subnet from a manager.",
        discussion: "A joined agent and pier up use the subnet the manager leases them from its --cluster-cidr instead."))
    var bridgeSubnet: String = "10.89.0.0/16"

    @Option(help: "The runc binary (default: PIER_RUNC, PATH, /usr/sbin/runc).")
    var runc: String?

    @Option(help: "The pier-shim binary (default: PIER_SHIM, next to pier, PATH).")
    var shim: String?

    @Option(help: "This node's name in a cluster (default: the host name).")
    var hostname: String = ProcessInfo.processInfo.hostName

    @Option(help: ArgumentHelp(
        "Serve the CoAP interface for constrained clients here: list, activate (PUT), observe, stop and remove services.",
        discussion: "An agent serves its own containers (direct activation, CPIS); a manager or `pier up` the cluster's services (CEMC). Needs --coap-keys. See docs/coap-api.md.",
        valueName: "udp://HOST:PORT"))
    var coap: String?

    @Option(help: ArgumentHelp(
        "JSON file of the CoAP clients: an OSCORE context and a scope (services, verbs, allowed host access) each; mode 600.",
        discussion: "`pier coap client create` adds clients to it. See docs/coap-api.md.",
        valueName: "path"))
    var coapKeys: String?

    @Flag(help: ArgumentHelp(
        "Also accept CoAP clients with a `token` in the keys file, sent in clear in option 65001.",
        discussion: "Anyone who sees the traffic can read a token and replay its requests; without this flag such clients are refused at start."))
    var coapInsecureToken = false

    @Option(name: .customLong("trust-key"), help: ArgumentHelp(
        "Run only images signed by this public key (repeatable; from `pier key create`).",
        discussion: "An agent refuses to create containers of unsigned images; a manager refuses services of them. See `pier image sign`.",
        valueName: "file.pub"))
    var trustKeys: [String] = []

    @Option(help: ArgumentHelp("Layers a pull downloads at the same time.", valueName: "n"))
    var maxConcurrentDownloads: Int = 3

    @Option(help: ArgumentHelp(
        "Network namespaces kept connected to the bridge ahead of need (0 to 16; 0: none).",
        discussion: "A bridge-network container then starts without waiting for the CNI plugins (only portmap runs, for published ports), "
            + "and its namespace goes back to the pool when it is gone unless it had CAP_NET_ADMIN or CAP_SYS_ADMIN. "
            + "The pool fills after the first bridge-network container and refills in the background. Each holds an address of the bridge subnet.",
        valueName: "n"))
    var networkPool: Int = 2

    @Option(help: ArgumentHelp(
        "The user namespace of containers that do not choose one with --userns: host, or remap.",
        discussion: "remap: each container's root is an unprivileged user on the host, from the `pier` entry of /etc/subuid "
            + "and /etc/subgid (pier:100000:65536 is added when there is none). Layers stay stored once (idmapped mounts, "
            + "Linux 5.19 or later; else a chowned copy per range). --privileged and --network host containers then need --userns host.",
        valueName: "mode"))
    var userns: String = "host"

    @Option(help: ArgumentHelp(
        "A name server the node's resolver forwards names outside the cluster to, instead of those of /etc/resolv.conf (repeatable).",
        discussion: "ADDRESS or ADDRESS#PORT. In a cluster the agent runs dnsmasq on the bridge's gateway address: containers resolve "
            + "service names (web, tasks.web, STACK_web) there, and every other name is forwarded.",
        valueName: "address"))
    var dnsUpstream: [String] = []

    func validate() throws {
        for server in dnsUpstream {
            if let problem = AgentConfiguration.dnsUpstreamProblem(server) { throw ValidationError("--dns-upstream \(server): \(problem)") }
        }
        guard userns == "host" || userns == "remap" else { throw ValidationError("--userns \(userns): use host or remap") }
        if (coap == nil) != (coapKeys == nil) { throw ValidationError("--coap and --coap-keys go together") }
        if coapInsecureToken && coap == nil { throw ValidationError("--coap-insecure-token needs --coap and --coap-keys") }
        guard (1...32).contains(maxConcurrentDownloads) else {
            throw ValidationError("--max-concurrent-downloads \(maxConcurrentDownloads): expected 1 to 32")
        }
        guard (0...AgentConfiguration.maxNetworkPool).contains(networkPool) else {
            throw ValidationError("--network-pool \(networkPool): expected 0 to \(AgentConfiguration.maxNetworkPool)")
        }
        for path in trustKeys {
            do { _ = try TrustedKey.load(path) } catch { throw ValidationError("--trust-key \(path): \(error)") }
        }
        if let socketGroup, Self.groupID(socketGroup) == nil {
            throw ValidationError("--socket-group \(socketGroup): no such group on this host (see /etc/group)")
        }
    }

    /// A group's id from its name or number, if the host has it.
    static func groupID(_ text: String) -> UInt32? {
        if let entry = getgrnam(text) { return entry.pointee.gr_gid }
        if let gid = UInt32(text), getgrgid(gid) != nil { return gid }
        return nil
    }

    func agentConfiguration(listen: [String]) -> AgentConfiguration {
        var configuration = AgentConfiguration(
            dataRoot: URL(fileURLWithPath: dataRoot).standardizedFileURL, listen: listen, runcPath: runc, shimPath: shim,
            bridgeName: bridge, bridgeSubnet: bridgeSubnet)
        if let coap, let coapKeys { configuration.coap = CoAPInterfaceOptions(address: coap, keysPath: coapKeys, insecureToken: coapInsecureToken) }
        configuration.trustedKeys = trustKeys.compactMap { try? TrustedKey.load($0) }  // checked in validate()
        configuration.maxConcurrentDownloads = maxConcurrentDownloads
        configuration.networkPool = networkPool
        configuration.socketGroup = socketGroup.flatMap(Self.groupID)  // checked in validate()
        configuration.userns = userns == "remap" ? .remap : .host
        configuration.dnsUpstreams = dnsUpstream.isEmpty ? nil : dnsUpstream
        return configuration
    }
}

/// `pier agent`: the device daemon.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the device agent: stores images and runs containers through runc.",
        discussion: "The agent keeps its images, containers and state under --data-root and serves the API on "
            + "each --listen address. Containers keep running when the agent stops or is killed; the next "
            + "agent on the same data root adopts them.\n\n"
            + "With --join the node joins a manager's cluster with a token from `pier join-token worker` on the manager, "
            + "read from --token-file or the PIER_JOIN_TOKEN environment variable (never from the command line, which "
            + "every user of the device can read), and runs the tasks the manager assigns, over one mutual-TLS connection "
            + "it dials out. A node that has joined reconnects on later starts without the flags.\n\n"
            + "An agent whose state database cannot be used starts degraded: it answers `pier info` with the problem, "
            + "refuses everything else, and leaves every container as it is until `pier agent recover` rebuilds the state.",
        subcommands: [AgentRecover.self]
    )

    @OptionGroup var daemon: DaemonOptions

    @OptionGroup(title: "Cluster network") var mesh: MeshFlags

    @Option(help: ArgumentHelp("Join the cluster of the manager at this address.", valueName: "tcp://HOST:PORT"))
    var join: String?

    @Option(help: ArgumentHelp(
        "A file holding the join token printed by `pier join-token worker` on the manager (or - for standard input).",
        discussion: "Or set PIER_JOIN_TOKEN. The token is a secret: keep the file readable by root only.", valueName: "path"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("Refused: a token on the command line is readable by every user in /proc; use --token-file or PIER_JOIN_TOKEN.", visibility: .hidden))
    var token: String?

    @Option(name: .customLong("advertise-device"), help: ArgumentHelp("A device to offer to services besides those found in /dev (repeatable).", valueName: "PATH"))
    var advertiseDevices: [String] = []

    func validate() throws {
        if token != nil {
            throw ValidationError("--token puts the join token on the command line, where every user of this device can read it (/proc/PID/cmdline); "
                + "pass it with --token-file FILE (or - for standard input) or the PIER_JOIN_TOKEN environment variable")
        }
        if tokenFile != nil && join == nil { throw ValidationError("--token-file goes with --join") }
    }

    /// The join token: from --token-file, else PIER_JOIN_TOKEN.
    func joinToken() throws -> String? {
        guard join != nil else { return nil }
        if let tokenFile {
            let data: Data?
            if tokenFile == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else { data = FileManager.default.contents(atPath: tokenFile) }
            guard let data, let text = String(data: data, encoding: .utf8) else {
                throw ValidationError("--token-file \(tokenFile): cannot read it")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let text = ProcessInfo.processInfo.environment["PIER_JOIN_TOKEN"], !text.isEmpty { return text }
        throw ValidationError("--join needs a join token: --token-file FILE, or the PIER_JOIN_TOKEN environment variable")
    }

    func run() async throws {
        let cluster = ClusterOptions(managerAddress: join, token: try joinToken(), hostname: daemon.hostname, devices: advertiseDevices)
        var configuration = daemon.agentConfiguration(listen: daemon.listen)
        configuration.mesh = mesh.options
        try await Agent(configuration: configuration).run(cluster: cluster)
    }
}
