import PierSpec
import Foundation
import PierCluster

/// `pier service inspect --pretty` and `pier node inspect --pretty`: the fields people read,
/// as `Label: value` lines in Docker's layout.
public enum PrettyInspect {
    public static func service(_ s: Service) -> String {
        let spec = s.spec
        let c = spec.task.container
        var out = Lines()
        out.add("ID", s.id)
        out.add("Name", spec.name)
        out.list("Labels", spec.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        switch spec.mode {
        case .replicated(let n):
            out.add("Service Mode", "Replicated")
            out.add(" Replicas", String(n))
        case .global:
            out.add("Service Mode", "Global")
        }
        if let status = s.updateStatus {
            out.header("UpdateStatus")
            out.add(" State", status.state.rawValue)
            out.add(" Started", iso(status.startedAt))
            if let done = status.completedAt { out.add(" Completed", iso(done)) }
            out.add(" Message", status.message)
        }
        let placement = spec.task.placement
        if !placement.constraints.isEmpty || !placement.preferences.isEmpty || placement.maxReplicasPerNode != nil {
            out.header("Placement")
            if !placement.constraints.isEmpty { out.add(" Constraints", "[" + placement.constraints.joined(separator: " ") + "]") }
            if !placement.preferences.isEmpty { out.add(" Preferences", "[" + placement.preferences.joined(separator: " ") + "]") }
            if let max = placement.maxReplicasPerNode { out.add(" Max Replicas Per Node", String(max)) }
        }
        for (title, config) in [("UpdateConfig", spec.update), ("RollbackConfig", spec.rollback)] {
            out.header(title)
            out.add(" Parallelism", String(config.parallelism))
            if config.delaySeconds > 0 { out.add(" Delay", duration(config.delaySeconds)) }
            out.add(" On failure", config.failureAction.rawValue)
            out.add(" Monitoring Period", duration(config.monitorSeconds))
            out.add(" Max failure ratio", number(config.maxFailureRatio))
            out.add(" Update order", config.order.rawValue)
        }
        let restart = spec.task.restartPolicy
        out.header("RestartPolicy")
        out.add(" Condition", restart.condition.rawValue)
        out.add(" Delay", duration(restart.delaySeconds))
        out.add(" Max Attempts", String(restart.maxAttempts ?? 0))
        if let window = restart.windowSeconds { out.add(" Window", duration(window)) }
        out.header("ContainerSpec")
        out.add(" Image", c.image)
        if let entrypoint = c.entrypoint { out.add(" Entrypoint", entrypoint.joined(separator: " ")) }
        if !c.command.isEmpty { out.add(" Args", c.command.joined(separator: " ")) }
        out.list(" Env", c.env)
        if let workdir = c.workdir { out.add(" Dir", workdir) }
        if let user = c.user { out.add(" User", user) }
        if let hostname = c.hostname { out.add(" Hostname", hostname) }
        if c.readOnly { out.add(" Read Only", "true") }
        out.list(" Labels", c.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        if let health = c.health {
            out.add(" Healthcheck", health.command.joined(separator: " "))
            out.add("  Interval", duration(health.intervalSeconds))
            out.add("  Timeout", duration(health.timeoutSeconds))
            out.add("  Retries", String(health.retries))
            out.add("  Start Period", duration(health.startPeriodSeconds))
        }
        out.list("Mounts", c.volumes)
        out.list("Devices", c.devices)
        let reservations = spec.task.reservations
        if reservations != .zero || c.memory != nil || c.cpus != nil || c.pidsLimit != nil {
            out.header("Resources")
            if reservations != .zero {
                out.header(" Reservations")
                if reservations.cpus > 0 { out.add("  CPU", number(reservations.cpus)) }
                if reservations.memoryBytes > 0 { out.add("  Memory", ByteSize.binary(reservations.memoryBytes)) }
            }
            if c.memory != nil || c.cpus != nil || c.pidsLimit != nil {
                out.header(" Limits")
                if let cpus = c.cpus { out.add("  CPU", number(cpus)) }
                if let memory = c.memory { out.add("  Memory", memory) }
                if let pids = c.pidsLimit { out.add("  PIDs", pids > 0 ? String(pids) : "unlimited") }
            }
        }
        if let network = c.network { out.add("Network", network) }
        out.list("Ports", c.publish.map(ServiceListing.port))
        if c.privileged { out.add("Privileged", "true") }
        out.list("Security Options", c.securityOpt.map { $0.hasPrefix("seccomp={") || $0.hasPrefix("seccomp:{") ? "seccomp=<profile>" : $0 })
        out.list("Tmpfs", c.tmpfs)
        out.list("Ulimits", c.ulimits)
        out.list("Sysctls", c.sysctls.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        if c.initProcess { out.add("Init", "true") }
        if let userns = c.userns { out.add("User namespace", userns) }
        return out.text
    }

    public static func node(_ n: Node) -> String {
        var out = Lines()
        out.add("ID", n.id)
        out.add("Hostname", n.description.hostname)
        out.add("Joined at", iso(n.createdAt))
        out.header("Status")
        out.add(" State", NodeListing.capitalized(n.state.rawValue))
        if let message = n.message, !message.isEmpty { out.add(" Message", message) }
        out.add(" Availability", NodeListing.capitalized(n.availability.rawValue))
        if let address = n.address { out.add(" Address", address) }
        if let heartbeat = n.lastHeartbeat { out.add(" Last Heartbeat", iso(heartbeat)) }
        out.add("Role", n.role.rawValue)
        out.list("Labels", n.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        out.header("Platform")
        out.add(" Operating System", n.description.platform.os)
        out.add(" Architecture", n.description.platform.architecture
            + (n.description.platform.variant.map { "/" + $0 } ?? ""))
        out.header("Resources")
        out.add(" CPUs", number(n.description.resources.cpus))
        out.add(" Memory", ByteSize.binary(n.description.resources.memoryBytes))
        out.list("Devices", n.description.devices)
        if let network = n.network {
            out.header("Network")
            out.add(" Subnet", network.subnet.description)
            out.add(" Reachability", network.reachability.rawValue)
            if let key = network.publicKey { out.add(" Public Key", key) }
            if let endpoint = network.endpoint { out.add(" Endpoint", endpoint) }
            if let relay = network.relayNodeID { out.add(" Relay", relay) }
            if n.description.network?.relay == true { out.add(" Offers Relay", "yes") }
            if let mtu = network.mtu { out.add(" MTU", String(mtu)) }
            if let message = network.message { out.add(" Message", message) }
        }
        if !n.description.agentVersion.isEmpty { out.add("Agent Version", n.description.agentVersion) }
        return out.text
    }

    /// Go's duration notation, as Docker prints durations: `5s`, `1m30s`, `500ms`, `0s`.
    public static func duration(_ seconds: Double) -> String {
        if seconds == 0 { return "0s" }
        if seconds < 1 { return number((seconds * 1000 * 1000).rounded() / 1000) + "ms" }
        var rest = seconds
        var text = ""
        let hours = Int(rest / 3600)
        if hours > 0 { text += "\(hours)h"; rest -= Double(hours) * 3600 }
        let minutes = Int(rest / 60)
        if minutes > 0 || hours > 0 { text += "\(minutes)m"; rest -= Double(minutes) * 60 }
        return text + number((rest * 1000).rounded() / 1000) + "s"
    }

    /// `2`, `0.5`: no trailing `.0`.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    static func iso(_ date: Date) -> String { date.formatted(.iso8601) }

    /// Lines of `Label:` and value, the values aligned in one column.
    struct Lines {
        private enum Line {
            case field(String, String)
            case header(String)
            case item(String)
        }
        private var lines: [Line] = []

        mutating func add(_ label: String, _ value: String) { lines.append(.field(label, value)) }
        mutating func header(_ label: String) { lines.append(.header(label)) }
        /// `Label:` with one ` - item` line per item; nothing when empty.
        mutating func list(_ label: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            header(label)
            let indent = String(label.prefix { $0 == " " })
            for item in items { lines.append(.item(indent + " - " + item)) }
        }

        var text: String {
            var width = 0
            for case .field(let label, _) in lines { width = max(width, label.count + 2) }
            return lines.map { line in
                switch line {
                case .field(let label, let value): (label + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value + "\n"
                case .header(let label): label + ":\n"
                case .item(let text): text + "\n"
                }
            }.joined()
        }
    }
}
