import ArgumentParser
import PierAPI
import PierClient

/// `pier info`: what the agent reports about itself and the device.
struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the agent's version, the device and what it holds.")

    @OptionGroup var client: ClientOptions
    @OptionGroup var output: FormatOption

    func run() async throws {
        let info = try await client.withClient { try await $0.info() }
        switch output.format {
        case .json: Output.print(try JSONOutput.render(info))
        case .table: Output.print(Self.describe(info))
        }
    }

    static func describe(_ info: AgentInfo) -> String {
        attention(info) + """
        Agent version:  \(info.version)
        Hostname:       \(info.hostname)
        OS/Arch:        \(info.os)/\(info.architecture)
        CPUs:           \(info.cpus)
        Memory:         \(ByteSize.binary(info.memoryBytes))
        Runtime:        \(info.runtime)
        Data root:      \(info.dataRoot)
        Containers:     \(info.containers) (\(info.running) running)
        Images:         \(info.images)
        \(info.network.map { "Network:        bridge \($0.bridge) \($0.subnet), " + pool($0) + "\n" } ?? "")\(info.isolation.map(isolation) ?? "")
        """
    }

    /// The agent's degraded state and what else needs attention, first.
    private static func attention(_ info: AgentInfo) -> String {
        var lines: [String] = []
        if let degraded = info.degraded { lines.append("DEGRADED:       \(degraded)") }
        for notice in info.notices ?? [] { lines.append("Attention:      \(notice)") }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    private static func isolation(_ i: NodeIsolation) -> String {
        let seccomp = i.seccomp ? "Pier's default policy (\(i.architectures.joined(separator: ", ")))" : "unavailable (runc lacks libseccomp)"
        let appArmor = i.appArmor ? (i.appArmorProfile.map { "enabled, default profile \($0)" } ?? "enabled, Pier's profile not loaded") : "not in this kernel"
        return """
            Seccomp:        \(seccomp)
            Cgroup ns:      \(i.cgroupNamespace ? "private per container" : "unavailable")
            AppArmor:       \(appArmor)
            User ns:        \(userns(i.userns))
            Pids limit:     \(i.defaultPidsLimit) per container by default
            Init (--init):  \(i.initBinary ?? "none (install tini)")
            Kernel:         \(i.kernel)

            """
    }

    private static func userns(_ u: NodeUserns?) -> String {
        guard let u else { return "host (this agent cannot remap)" }
        let layers = u.layers == "idmapped" ? "layers idmapped, stored once" : "a chowned copy of each layer"
        let range = u.problem.map { "remap unavailable: \($0)" } ?? "remap: \(u.range ?? "the pier subuid/subgid range, added on first use"); \(layers)"
        return "\(u.defaultMode) by default (\(range))"
    }

    private static func pool(_ network: NetworkInfo) -> String {
        network.poolSize == 0 ? "no namespace pool" : "\(network.pooled) of \(network.poolSize) pooled namespaces ready"
    }
}
