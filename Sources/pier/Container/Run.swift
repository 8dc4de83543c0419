import PierSpec
import ArgumentParser
import Foundation
import PierAPI
import PierClient

/// `pier run`: create and start a container in one request; in the foreground, stream its output
/// and exit with its exit code.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Create and start a container from an image.",
        discussion: """
        Without -d the container's output is streamed here, Ctrl-C is passed on to the container, and pier \
        exits with the container's exit code (125 when pier or the agent failed). With -d the new container's id is printed. Everything after \
        IMAGE belongs to the container: pier run busybox ls -l
        """
    )

    @OptionGroup var client: ClientOptions

    @Flag(name: .shortAndLong, help: "Run in the background and print the container id.")
    var detach = false
    @Flag(name: .customLong("rm"), help: "Remove the container when it exits.")
    var autoRemove = false
    @Option(help: "Name of the container (default: a generated one).")
    var name: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Set an environment variable; KEY alone takes its value from this shell.", valueName: "KEY=VALUE"))
    var env: [String] = []
    @Option(help: ArgumentHelp("Read environment variables from a file of KEY=VALUE lines.", valueName: "file"))
    var envFile: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Working directory inside the container.", valueName: "dir"))
    var workdir: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("User to run as: name, uid, name:group or uid:gid.", valueName: "user"))
    var user: String?
    @Option(help: "Hostname of the container.")
    var hostname: String?
    @Flag(help: "Mount the container's root filesystem read-only.")
    var readOnly = false
    @Option(name: .shortAndLong, help: ArgumentHelp("Bind-mount a host path; add :ro for read-only.", valueName: "HOST:CONTAINER[:ro]"))
    var volume: [String] = []
    @Option(help: ArgumentHelp("Give the container a host device (only these are visible); r, w, m restrict access.", valueName: "HOST[:CONTAINER][:rwm]"))
    var device: [String] = []
    @Option(name: .shortAndLong, help: ArgumentHelp("Memory limit, e.g. 64m or 1g.", valueName: "bytes"))
    var memory: String?
    @Option(help: ArgumentHelp("CPU limit in CPUs, e.g. 0.5.", valueName: "n"))
    var cpus: Double?
    @Option(parsing: .unconditional, help: ArgumentHelp("Most processes the container may have (default 4096; 0 or -1: no limit).", valueName: "n"))
    var pidsLimit: Int?
    @Option(help: ArgumentHelp("Network: bridge (default), host or none.", valueName: "mode"))
    var network: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Publish a container port on the host (bridge network only).", valueName: "[IP:]HOST:CONTAINER[/udp]"))
    var publish: [String] = []
    @Option(help: ArgumentHelp("Restart policy: no, on-failure[:N], always or unless-stopped.", valueName: "policy"))
    var restart: String?
    @Option(help: ArgumentHelp("Command run with /bin/sh -c inside the container to check its health.", valueName: "command"))
    var healthCmd: String?
    @Option(help: ArgumentHelp("Time between health checks, e.g. 30s or 1m30s (default 30s).", valueName: "duration"))
    var healthInterval: String?
    @Option(help: ArgumentHelp("Time a health check may take (default 30s).", valueName: "duration"))
    var healthTimeout: String?
    @Option(help: ArgumentHelp("Failed checks in a row that make the container unhealthy (default 3).", valueName: "n"))
    var healthRetries: Int?
    @Option(help: ArgumentHelp("Time after start during which failed checks do not count (default 0s).", valueName: "duration"))
    var healthStartPeriod: String?
    @Option(name: .shortAndLong, help: ArgumentHelp("Set a label on the container.", valueName: "KEY=VALUE"))
    var label: [String] = []
    @Option(help: ArgumentHelp("Add a Linux capability, e.g. NET_ADMIN.", valueName: "capability"))
    var capAdd: [String] = []
    @Option(help: ArgumentHelp("Drop a Linux capability, e.g. NET_RAW, or ALL.", valueName: "capability"))
    var capDrop: [String] = []
    @Option(help: ArgumentHelp("Replace the image's entrypoint with this executable (\"\" clears it).", valueName: "executable"))
    var entrypoint: String?
    @Option(help: ArgumentHelp("Signal that stops the container, e.g. SIGINT (default: the image's, else SIGTERM).", valueName: "signal"))
    var stopSignal: String?
    @Option(help: ArgumentHelp("Log rotation: max-size=10m (bytes per file) or max-file=3 (files kept).", valueName: "KEY=VALUE"))
    var logOpt: [String] = []
    @Flag(help: "Give the container every capability and host device, without seccomp, AppArmor or masked paths.")
    var privileged = false
    @Option(help: ArgumentHelp(
        "Security option: seccomp=PROFILE.json (Docker's format), seccomp=unconfined, apparmor=PROFILE, no-new-privileges[=false].",
        valueName: "option"))
    var securityOpt: [String] = []
    @Option(help: ArgumentHelp("Mount a tmpfs, e.g. /run:size=64m,mode=1777 (noexec,nosuid,nodev by default).", valueName: "path[:options]"))
    var tmpfs: [String] = []
    @Option(help: ArgumentHelp("Mount: type=bind,source=/host,target=/path[,readonly] or type=tmpfs,target=/path[,tmpfs-size=64m].", valueName: "spec"))
    var mount: [String] = []
    @Option(help: ArgumentHelp("Resource limit, e.g. nofile=1024:2048 (-1: unlimited).", valueName: "name=soft[:hard]"))
    var ulimit: [String] = []
    @Option(help: ArgumentHelp("Size of /dev/shm (default 64m).", valueName: "bytes"))
    var shmSize: String?
    @Option(help: ArgumentHelp("Namespaced kernel parameter: net.*, fs.mqueue.*, kernel.msg*/sem/shm*.", valueName: "KEY=VALUE"))
    var sysctl: [String] = []
    @Flag(name: .customLong("init"), help: "Run a tiny init (the node's tini) as process 1: it reaps zombies and forwards signals.")
    var initProcess = false
    @Option(help: ArgumentHelp(
        "User namespace: remap (root in the container is an unprivileged user on the host, from the node's pier subuid range) or host (default: the node's, pier agent --userns).",
        valueName: "mode"))
    var userns: String?

    @Argument(help: "The image, e.g. busybox or sensor:1.0.")
    var image: String
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("The command and its arguments (default: the image's).", valueName: "command"))
    var command: [String] = []

    /// The flags as ``RunOptions``, which builds the request.
    var options: RunOptions {
        var o = RunOptions(image: image, command: command)
        o.detach = detach; o.autoRemove = autoRemove; o.name = name; o.env = env; o.envFiles = envFile
        o.workdir = workdir; o.user = user; o.hostname = hostname; o.readOnly = readOnly; o.volumes = volume
        o.devices = device; o.memory = memory; o.cpus = cpus; o.pidsLimit = pidsLimit; o.network = network
        o.publish = publish; o.restart = restart; o.healthCmd = healthCmd; o.healthInterval = healthInterval
        o.healthTimeout = healthTimeout; o.healthRetries = healthRetries; o.healthStartPeriod = healthStartPeriod
        o.labels = label; o.capAdd = capAdd; o.capDrop = capDrop; o.entrypoint = entrypoint
        o.stopSignal = stopSignal; o.logOpts = logOpt; o.privileged = privileged; o.securityOpts = securityOpt
        o.tmpfs = tmpfs; o.mounts = mount; o.ulimits = ulimit; o.shmSize = shmSize; o.sysctls = sysctl
        o.initProcess = initProcess; o.userns = userns
        return o
    }

    func run() async throws {
        let status = await ContainerRun(options: options, client: client.settings).execute()
        if status != 0 { throw ExitCode(status) }
    }
}

/// What `pier run` does once its flags are read (by ArgumentParser, or by `RunFastPath`).
struct ContainerRun {
    var options: RunOptions
    var client: ClientSettings

    /// Runs the container; returns the exit status for pier: the container's in the
    /// foreground, 0 with -d, 125 when pier or the agent failed (as docker run). It runs on the
    /// caller's executor, so a foreground run on a local socket (the activation path, all
    /// synchronous) never leaves the calling thread.
    nonisolated(nonsending) func execute() async -> Int32 {
        do {
            let (request, endpoint) = try prepare()
            if !options.detach, case .unix(let path) = endpoint {
                return try runDirect(socketPath: path, endpoint: endpoint, request: request)
            }
            return try await runThroughClient(request)
        } catch {
            return failed(error)
        }
    }

    private func prepare() throws -> (ContainerSpec, AgentEndpoint) {
        let request = try options.makeRequest(environment: ProcessInfo.processInfo.environment) { path in
            try String(contentsOfFile: path, encoding: .utf8)
        }
        return (request, try client.endpoint())
    }

    private func failed(_ error: any Error) -> Int32 {
        Output.printError("Error: \(error)\n")
        return 125
    }

    /// `-d`, or an agent that is not on a local socket: through the HTTP client.
    private func runThroughClient(_ request: ContainerSpec) async throws -> Int32 {
        try await client.withClient { agent in
            if options.detach {
                let created = try await agent.createContainer(request, start: true)
                Output.print(created.id + "\n")
                return 0
            }
            // One request: created, started and attached. Nothing else on this path.
            let stream = try await agent.runAttached(request)
            // Ctrl-C and SIGTERM go to the container, as with docker run.
            let forwarder = (stream.containerID ?? request.name).map { target in
                SignalForwarder { signal in Task { try? await agent.killContainer(target, signal: signal) } }
            }
            defer { forwarder?.cancel() }
            return reportExit(try await stream.pumpUntilExit(into: StandardStreams()))
        }
    }

    private func reportExit(_ exit: ContainerExit) -> Int32 {
        if let error = exit.error { Output.printError("Error: \(error)\n") }
        return exit.exitCode
    }

    /// The foreground run on a local socket: one plain request, no HTTP client library (the
    /// activation path). Ctrl-C and SIGTERM still reach the container.
    private func runDirect(socketPath: String, endpoint: AgentEndpoint, request: ContainerSpec) throws -> Int32 {
        let target = LockedTarget(request.name)
        let configuration = client.configuration
        let forwarder = SignalForwarder { signal in
            guard let name = target.value else { return }
            Task { try? await AgentClient.withClient(endpoint: endpoint, configuration: configuration) { try await $0.killContainer(name, signal: signal) } }
        }
        defer { forwarder.cancel() }
        let exit = try DirectAttachedRun.run(socketPath: socketPath, request: request, output: StandardStreams()) { id in
            target.value = id
        }
        return reportExit(exit)
    }
}

/// The container a signal goes to, known once the agent has answered.
private final class LockedTarget: @unchecked Sendable {
    private let lock = NSLock()
    private var name: String?
    init(_ name: String?) { self.name = name }
    var value: String? {
        get { lock.lock(); defer { lock.unlock() }; return name }
        set { lock.lock(); name = newValue; lock.unlock() }
    }
}
