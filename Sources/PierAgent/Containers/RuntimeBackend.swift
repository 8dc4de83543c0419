import PierCluster
import PierSpec
import Foundation
import PierAPI
import PierRuntime
import Synchronization

/// Adapter from the runc runtime (`PierRuntime.RuncRuntime`) to what the container manager needs.
final class RuntimeBackend: RuntimeProvider {
    let runtime: RuncRuntime
    let runcDescription: String
    /// The node runs its resolver (a cluster agent with dnsmasq): bridge containers use it.
    let servesNames = Atomic<Bool>(false)

    /// `bridgeNetwork`: the bridge network as the node's lease wants it (`NodeMesh.bridgeConfiguration`).
    init(configuration: AgentConfiguration, bridgeNetwork: (NetworkConfiguration) -> NetworkConfiguration = { $0 }) throws {
        var network = NetworkConfiguration()
        network.subnet = configuration.bridgeSubnet
        network.bridge = configuration.bridgeName
        network.poolSize = configuration.networkPool
        network = bridgeNetwork(network)
        runtime = try RuncRuntime(configuration: RuntimeConfiguration(
            dataRoot: configuration.dataRoot, runcPath: configuration.runcPath, shimPath: configuration.shimPath,
            network: network, userns: configuration.userns))
        runcDescription = "runc (\(runtime.runc.binary))"
    }

    /// The runtime's validated options for a request: the model's checks, then this node's
    /// (bind sources, devices, CPUs).
    static func options(_ r: ContainerSpec) throws -> ContainerOptions {
        do {
            let options = try r.validate()
            try options.checkOnHost()
            return options
        } catch let error as ContainerSpecError {
            throw AgentError.invalid(error.description)
        }
    }

    /// The request's options, and its user namespace on this node (the range is read, and
    /// added when absent, here: a remapped container that cannot have one is refused at create).
    func validate(_ request: ContainerSpec) throws {
        let options = try Self.options(request)
        do {
            _ = try runtime.userNamespace(for: options)
        } catch let error as ContainerSpecError {
            throw AgentError.invalid(error.description)
        } catch let error as UserNamespaceError {
            throw AgentError.invalid(error.description)
        }
    }

    func launch(id: String, request: ContainerSpec, image: RunnableImage, layers: [URL], command: [String],
                directory: URL, logPath: URL, foreground: Bool) async throws -> LaunchResult {
        let options = try Self.options(request)
        let config = ImageRunConfig(entrypoint: image.entrypoint, cmd: image.cmd, env: image.env,
                                    workingDir: image.workdir, user: image.user, stopSignal: image.stopSignal,
                                    architecture: image.architecture)
        let launched: LaunchedContainer
        do {
            let prepared = try await runtime.prepare(LaunchRequest(
                id: id, options: options, image: config, layers: layers,
                layout: ContainerLayout(directory: directory, logPath: logPath), arguments: command, foreground: foreground,
                resolvConf: resolvConf(for: request, network: options.network)))
            trace("launch: prepared (rootfs, network, bundle)")
            launched = try await runtime.start(prepared)
        } catch let error as ContainerSpecError {
            throw AgentError.invalid(error.description)
        }
        return LaunchResult(shimPid: launched.shimPID, containerPid: launched.containerPID, ipAddress: launched.ipAddress)
    }

    func hasLaunchState(id: String, directory: URL) -> Bool {
        FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path)
            || runtime.network.hasState(id: id)
    }

    func anticipateStart() { runtime.anticipateStart() }

    func recoverStandby() async -> [String] { await runtime.network.recoverPool() }

    var networkInfo: NetworkInfo {
        let network = runtime.network
        return NetworkInfo(
            bridge: network.configuration.bridge, subnet: network.configuration.subnet,
            poolSize: network.configuration.poolSize, pooled: network.pooledNamespaces.count)
    }

    func releaseStandby() async -> [String] { await runtime.network.drainPool() }

    var isolation: NodeIsolation {
        let i = runtime.isolation
        return NodeIsolation(
            seccomp: i.seccomp, cgroupNamespace: i.cgroupNamespace, appArmor: i.appArmor, appArmorProfile: i.appArmorProfile,
            architectures: i.architectures, kernel: i.kernel, initBinary: i.initBinary, defaultPidsLimit: DefaultProfile.pidsLimit,
            userns: usernsView)
    }

    var usernsView: NodeUserns {
        let (range, problem) = runtime.subordinateIDsIfPresent()
        return NodeUserns(
            defaultMode: runtime.isolation.usernsDefault.rawValue, range: range?.description, problem: problem,
            layers: runtime.isolation.layerIDMapping.rawValue)
    }

    func security(directory: URL, request: ContainerSpec) -> ContainerSecurity? {
        guard let spec = try? RuntimeSpec.read(fromBundle: directory), let process = spec.process else { return nil }
        let filter = spec.linux?.seccomp
        var seccomp = "unconfined"
        if filter != nil {
            seccomp = request.securityOpt.contains { $0.hasPrefix("seccomp=") || $0.hasPrefix("seccomp:") } ? "profile" : "pier-default"
        }
        return ContainerSecurity(
            privileged: request.privileged, seccomp: seccomp, seccompRules: filter?.syscalls?.count ?? 0,
            cgroupNamespace: spec.linux?.namespaces?.contains { $0.type == "cgroup" } == true ? "private" : "host",
            appArmor: process.apparmorProfile, noNewPrivileges: process.noNewPrivileges ?? false,
            pidsLimit: spec.linux?.resources?.pids?.limit, capabilities: process.capabilities?.bounding ?? [],
            userns: spec.linux?.namespaces?.contains { $0.type == "user" } == true ? "remap" : "host",
            uidMap: spec.linux?.uidMappings?.map { "\($0.containerID) \($0.hostID) \($0.size)" }.joined(separator: ", "),
            gidMap: spec.linux?.gidMappings?.map { "\($0.containerID) \($0.hostID) \($0.size)" }.joined(separator: ", "))
    }

    func cleanup(id: String, directory: URL) async -> [String] {
        await runtime.cleanup(id: id, layout: ContainerLayout(directory: directory))
    }

    func signal(id: String, signal: String) async throws {
        let parsed: Signal
        do { parsed = try Signal(parsing: signal) } catch { throw AgentError.invalid("\(error)") }
        try await runtime.signal(id: id, signal: parsed, all: parsed == .kill)
    }

    func waitForExit(pid: Int32) async { _ = await runtime.waitForExit(pid: pid) }

    func exitInfo(directory: URL) -> ExitInfo? {
        runtime.exitRecord(layout: ContainerLayout(directory: directory)).map {
            ExitInfo(exitCode: $0.exitCode, finishedAt: $0.finishedAt, error: $0.error)
        }
    }

    func isShimAlive(pid: Int32, id: String) -> Bool { runtime.isShimAlive(pid: pid, id: id) }

    func stats(id: String) throws -> (cpuNanoseconds: UInt64, memoryBytes: UInt64, memoryLimit: UInt64?, pids: UInt64) {
        let u = try runtime.stats(id: id)
        return (u.cpuNanoseconds, u.memoryBytes, u.memoryLimitBytes, u.pids)
    }

    func exec(id: String, directory: URL, request: ExecRequest, timeout: Duration?,
              output: @escaping @Sendable (ExecOutput) -> Void) async throws -> Int32 {
        try await runtime.exec(
            id: id, layout: ContainerLayout(directory: directory), command: request.command, env: request.env,
            workdir: request.workdir, user: request.user, timeout: timeout
        ) { out in
            switch out {
            case .stdout(let b): output(.stdout(b))
            case .stderr(let b): output(.stderr(b))
            }
        }
    }
}
