import PierSpec
import Foundation
import PierAPI
import PierCluster

extension ComposeReader {
    static let deployHints: [String: String] = [:]

    /// `deploy:` as Swarm reads it, into `spec`.
    mutating func deploy(_ value: YAMLValue, _ path: String, into spec: inout ServiceSpec) {
        let keys: Set<String> = [
            "mode", "replicas", "labels", "placement", "resources", "restart_policy", "update_config", "rollback_config", "endpoint_mode",
        ]
        guard let f = mapping(value, path, allowed: keys, hints: Self.deployHints) else { return }
        func p(_ key: String) -> String { Self.join(path, key) }

        var global = false
        if let v = f["mode"], let mode = string(v, p("mode")) {
            switch mode {
            case "replicated": break
            case "global": global = true
            case "replicated-job", "global-job":
                unsupported(p("mode"), "\"\(mode)\" is not supported: Pier services run until removed; expected replicated or global")
            default:
                invalid(p("mode"), "\"\(mode)\" is not one of replicated, global")
            }
        }
        var replicas = 1
        if let v = f["replicas"], let n = int(v, p("replicas")) {
            if global { invalid(p("replicas"), "cannot be set with mode: global (one task runs on every eligible node)") }
            replicas = n
        }
        spec.mode = global ? .global : .replicated(replicas)
        if let v = f["labels"] { spec.labels = labels(v, p("labels")) ?? [:] }
        if let v = f["placement"] { spec.task.placement = placement(v, p("placement")) }
        if let v = f["resources"] { resources(v, p("resources"), into: &spec.task) }
        if let v = f["restart_policy"] { spec.task.restartPolicy = restartPolicy(v, p("restart_policy")) }
        if let v = f["update_config"] { spec.update = updateConfig(v, p("update_config"), rollback: false) }
        if let v = f["rollback_config"] { spec.rollback = updateConfig(v, p("rollback_config"), rollback: true) }
        if let v = f["endpoint_mode"], let m = choice(v, p("endpoint_mode"), EndpointMode.self, choices: EndpointMode.allCases) {
            spec.endpointMode = m
            if m == .vip {
                warnings.append("\(p("endpoint_mode")): vip is served as DNS round robin (Pier has no virtual IPs): the name resolves to every task's address")
            }
        }
    }

    private mutating func placement(_ value: YAMLValue, _ path: String) -> Placement {
        guard let f = mapping(value, path, allowed: ["constraints", "preferences", "max_replicas_per_node"]) else { return Placement() }
        func p(_ key: String) -> String { Self.join(path, key) }
        var placement = Placement()
        if let v = f["constraints"], let items = strings(v, p("constraints"), what: "constraints") {
            for (i, c) in items.enumerated() {
                do {
                    placement.constraints.append(try Constraint(parsing: c).description)
                } catch {
                    invalid(Self.index(p("constraints"), i), "\(error)")
                }
            }
        }
        if let v = f["preferences"], let items = list(v, p("preferences"), of: "preferences such as - spread: node.labels.zone") {
            for (i, item) in items.enumerated() {
                let ip = Self.index(p("preferences"), i)
                guard let pref = mapping(item, ip, allowed: ["spread"]) else { continue }
                guard let v = pref["spread"], let label = word(v, Self.join(ip, "spread"), what: "a node attribute such as node.labels.zone") else {
                    if pref["spread"] == nil || pref["spread"] == .null {
                        invalid(Self.join(ip, "spread"), "is required, e.g. spread: node.labels.zone")
                    }
                    continue
                }
                do {
                    placement.preferences.append(try PlacementPreference(parsing: "spread=\(label)").description)
                } catch {
                    invalid(Self.join(ip, "spread"), "\"\(label)\" is not a node attribute; expected node.labels.NAME, node.hostname, node.platform.arch, …")
                }
            }
        }
        if let v = f["max_replicas_per_node"], let n = int(v, p("max_replicas_per_node")) {
            placement.maxReplicasPerNode = n == 0 ? nil : n
        }
        return placement
    }

    private mutating func resources(_ value: YAMLValue, _ path: String, into task: inout TaskTemplate) {
        guard let f = mapping(value, path, allowed: ["limits", "reservations"]) else { return }
        let cpusExpected = "a number of CPUs greater than 0 such as 0.5"
        if let v = f["limits"] {
            let lp = Self.join(path, "limits")
            if let l = mapping(v, lp, allowed: ["cpus", "memory", "pids"]) {
                if let v = l["cpus"], let cpus = double(v, Self.join(lp, "cpus"), range: 0.001...1024, what: cpusExpected) {
                    task.container.cpus = cpus
                }
                if let v = l["memory"], let bytes = bytes(v, Self.join(lp, "memory")) {
                    if bytes < 6 << 20 {
                        invalid(Self.join(lp, "memory"), "\(MemorySize(bytes: bytes).flag) is below the 6M minimum a container needs to start")
                    } else {
                        task.container.memory = MemorySize(bytes: bytes).flag
                    }
                }
                if let v = l["pids"], let n = int(v, Self.join(lp, "pids"), atLeast: -1) {
                    task.container.pidsLimit = n  // 0 and -1: no limit
                }
            }
        }
        if let v = f["reservations"] {
            let rp = Self.join(path, "reservations")
            let hints = [
                "devices": "not supported: give devices under the service's devices: (the scheduler places the task where they exist)",
                "generic_resources": "not supported: use node labels and placement.constraints",
            ]
            if let r = mapping(v, rp, allowed: ["cpus", "memory"], hints: hints) {
                if let v = r["cpus"], let cpus = double(v, Self.join(rp, "cpus"), range: 0...1024, what: cpusExpected) {
                    task.reservations.cpus = cpus
                }
                if let v = r["memory"], let bytes = bytes(v, Self.join(rp, "memory")) { task.reservations.memoryBytes = bytes }
            }
        }
    }

    private mutating func restartPolicy(_ value: YAMLValue, _ path: String) -> RestartPolicy {
        var policy = RestartPolicy()
        guard let f = mapping(value, path, allowed: ["condition", "delay", "max_attempts", "window"]) else { return policy }
        func p(_ key: String) -> String { Self.join(path, key) }
        if let v = f["condition"], let c = choice(v, p("condition"), RestartPolicy.Condition.self, choices: RestartPolicy.Condition.allCases) {
            policy.condition = c
        }
        if let v = f["delay"], let s = duration(v, p("delay")) { policy.delaySeconds = s }
        if let v = f["max_attempts"], let n = int(v, p("max_attempts")) { policy.maxAttempts = n == 0 ? nil : n }
        if let v = f["window"], let s = duration(v, p("window")) { policy.windowSeconds = s == 0 ? nil : s }
        return policy
    }

    private mutating func updateConfig(_ value: YAMLValue, _ path: String, rollback: Bool) -> UpdateConfig {
        var config = UpdateConfig()
        let keys: Set<String> = ["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"]
        guard let f = mapping(value, path, allowed: keys) else { return config }
        func p(_ key: String) -> String { Self.join(path, key) }
        if let v = f["parallelism"], let n = int(v, p("parallelism")) { config.parallelism = n }
        if let v = f["delay"], let s = duration(v, p("delay")) { config.delaySeconds = s }
        let actions: [UpdateConfig.FailureAction] = rollback ? [.pause, .continue] : UpdateConfig.FailureAction.allCases
        if let v = f["failure_action"], let a = choice(v, p("failure_action"), UpdateConfig.FailureAction.self, choices: actions) {
            config.failureAction = a
        }
        if let v = f["monitor"], let s = duration(v, p("monitor")) { config.monitorSeconds = s }
        if let v = f["max_failure_ratio"],
            let r = double(v, p("max_failure_ratio"), range: 0...1, what: "a fraction from 0 to 1 such as 0.2")
        {
            config.maxFailureRatio = r
        }
        if let v = f["order"], let o = choice(v, p("order"), UpdateConfig.Order.self, choices: UpdateConfig.Order.allCases) {
            config.order = o
        }
        return config
    }
}
