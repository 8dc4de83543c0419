import ArgumentParser
import Foundation
import PierClient

/// `pier service create`: a replicated or global service; prints its id.
struct ServiceCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a service.",
        discussion: """
        The manager schedules the service's tasks onto nodes that satisfy its constraints, devices, \
        ports and reservations. Everything after IMAGE belongs to the tasks: pier service create --replicas 3 busybox sleep 1d
        """)

    @OptionGroup var client: ClientOptions
    @Option(help: "Name of the service (default: the image's name and a random suffix).")
    var name: String?
    @Option(help: ArgumentHelp("replicated (default) or global (one task on every eligible node).", valueName: "mode"))
    var mode: String?
    @OptionGroup var settings: ServiceSettingsOptions
    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable; KEY alone takes its value from this shell.", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(help: ArgumentHelp("Read environment variables from a file of KEY=VALUE lines.", valueName: "file"))
    var envFile: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Bind-mount a host path on the node; add :ro for read-only.", valueName: "HOST:CONTAINER[:ro]"))
    var volume: [String] = []
    @Option(help: ArgumentHelp("Give the tasks a host device; the service is placed only on nodes that have it.", valueName: "HOST[:CONTAINER][:rwm]"))
    var device: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Publish a container port on the node (bridge network only).", valueName: "HOST:CONTAINER[/udp]"))
    var publish: [String] = []
    @Option(help: ArgumentHelp("Placement constraint, e.g. node.labels.zone==a or node.platform.arch==arm64.", valueName: "constraint"))
    var constraint: [String] = []
    @Option(help: ArgumentHelp("Spread tasks over a node attribute's values.", valueName: "spread=node.labels.NAME"))
    var placementPref: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Set a label on the service.", valueName: "KEY=VALUE"))
    var label: [String] = []
    @Option(help: ArgumentHelp("Set a label on the tasks' containers.", valueName: "KEY=VALUE"))
    var containerLabel: [String] = []
    @Flag(help: "Give the tasks every capability and host device, without seccomp, AppArmor or masked paths.")
    var privileged = false
    @Option(help: ArgumentHelp(
        "Security option: seccomp=PROFILE.json, seccomp=unconfined, apparmor=PROFILE (only nodes with AppArmor), no-new-privileges[=false].",
        valueName: "option"))
    var securityOpt: [String] = []
    @Option(help: ArgumentHelp("Mount a tmpfs, e.g. /run:size=64m.", valueName: "path[:options]"))
    var tmpfs: [String] = []
    @Option(help: ArgumentHelp("Mount: type=bind,source=/host,target=/path[,readonly] or type=tmpfs,target=/path.", valueName: "spec"))
    var mount: [String] = []
    @Option(help: ArgumentHelp("Resource limit, e.g. nofile=1024:2048.", valueName: "name=soft[:hard]"))
    var ulimit: [String] = []
    @Option(help: ArgumentHelp("Namespaced kernel parameter, e.g. net.core.somaxconn=1024.", valueName: "KEY=VALUE"))
    var sysctl: [String] = []
    @Flag(name: .customLong("init"), help: "Run a tiny init (tini) as each task's process 1; only nodes with tini run it.")
    var initProcess = false
    @Option(help: ArgumentHelp(
        "User namespace of the tasks: remap (root is an unprivileged user on the node, from its pier subuid range) or host (default: each node's).",
        valueName: "mode"))
    var userns: String?

    @Argument(help: "The image, e.g. busybox or sensor:1.0.")
    var image: String
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments (default: the image's).", valueName: "command"))
    var command: [String] = []

    var options: ServiceCreateOptions {
        var o = ServiceCreateOptions(image: image, command: command)
        o.name = name; o.mode = mode; o.settings = settings.settings; o.env = env; o.envFiles = envFile
        o.volumes = volume; o.devices = device; o.publish = publish; o.constraints = constraint
        o.placementPreferences = placementPref; o.labels = label; o.containerLabels = containerLabel
        o.privileged = privileged; o.securityOpts = securityOpt; o.tmpfs = tmpfs; o.mounts = mount; o.ulimits = ulimit
        o.sysctls = sysctl; o.initProcess = initProcess; o.userns = userns
        return o
    }

    func run() async throws {
        let spec = try options.makeSpec(environment: ProcessInfo.processInfo.environment) { path in
            try String(contentsOfFile: path, encoding: .utf8)
        }
        let service = try await client.withManager { try await $0.createService(spec) }
        Output.print(service.id + "\n")
    }
}
