import PierSpec
import Foundation
import PierAPI
import PierCluster

extension ComposeReader {
    static let serviceKeys: Set<String> = [
        "image", "command", "entrypoint", "environment", "ports", "volumes", "devices", "healthcheck",
        "network_mode", "labels", "user", "working_dir", "hostname", "read_only", "cap_add", "cap_drop",
        "stop_signal", "deploy", "privileged", "security_opt", "tmpfs", "ulimits", "sysctls", "shm_size", "init",
        "userns_mode", "networks",
    ]

    static let serviceHints: [String: String] = [
        "build": "not supported: a stack does not build images; build with `pier image build -t NAME .` and give image: NAME",
        "restart": "not supported in a stack (Swarm ignores it too); use deploy.restart_policy",
        "container_name": "not supported: the manager names each task's container",
        "depends_on": "not supported: a stack's services start independently; make a service retry until its peers answer",
        "env_file": "not supported: put the variables under environment:",
        "secrets": "not supported: Pier has no secrets store yet; use a read-only bind mount",
        "configs": "not supported: Pier has no configs store yet; use a read-only bind mount",
        "links": "not supported: a stack's services reach each other by name (web, tasks.web, STACK_web) on the stack's default network; use networks: default: aliases: for further names",
        "expose": "not supported: containers on the bridge network reach each other directly; publish ports with ports:",
        "mem_limit": "not supported in a stack; use deploy.resources.limits.memory",
        "cpus": "not supported in a stack; use deploy.resources.limits.cpus",
        "pids_limit": "not supported in a stack; use deploy.resources.limits.pids",
    ]

    /// One entry of `services:`, as a spec named after the compose service (not yet namespaced).
    mutating func service(name: String, _ value: YAMLValue) -> ServiceSpec? {
        let path = "services.\(name)"
        let before = problems.count
        if let reason = StackDefinition.nameProblem(name) {
            invalid(path, "service name \"\(name)\" \(reason)")
        }
        guard let f = mapping(value, path, allowed: Self.serviceKeys, hints: Self.serviceHints) else { return nil }
        func p(_ key: String) -> String { Self.join(path, key) }

        var c = ContainerSpec(image: "")
        if let v = f["image"], let image = word(v, p("image"), what: "an image reference such as alpine:3.20") {
            if image.contains(where: \.isWhitespace) {
                invalid(p("image"), "\"\(image)\" contains blanks; expected an image reference such as alpine:3.20")
            }
            c.image = image
        } else if f["image"] == nil || f["image"] == .null {
            invalid(p("image"), "is required: name the image each task runs (Pier does not build images in a stack)")
        }
        if let v = f["command"] { c.command = commandLine(v, p("command")) ?? [] }
        if let v = f["entrypoint"], v != .null { c.entrypoint = commandLine(v, p("entrypoint")) }
        if let v = f["environment"] { c.env = environment(v, p("environment")) }
        if let v = f["ports"] { c.publish = ports(v, p("ports")) }
        if let v = f["volumes"] { c.volumes = volumes(v, p("volumes")) }
        if let v = f["devices"] { c.devices = devices(v, p("devices")) }
        if let v = f["healthcheck"] { c.health = healthcheck(v, p("healthcheck")) }
        if let v = f["network_mode"], let mode = string(v, p("network_mode")) {
            if ["bridge", "host", "none"].contains(mode) {
                c.network = mode
            } else {
                invalid(p("network_mode"), "\"\(mode)\" is not supported; expected bridge, host or none")
            }
        }
        if !c.publish.isEmpty, let mode = c.network, mode != "bridge" {
            invalid(p("ports"), "published ports need network_mode: bridge (with \(mode) there is nothing to forward to); remove ports: or network_mode:")
        }
        if let v = f["labels"] { c.labels = labels(v, p("labels")) ?? [:] }
        if let v = f["user"] { c.user = word(v, p("user"), what: "user, uid, user:group or uid:gid") }
        if let v = f["working_dir"], let dir = word(v, p("working_dir"), what: "an absolute path") {
            if dir.hasPrefix("/") { c.workdir = dir } else { invalid(p("working_dir"), "\"\(dir)\" is not an absolute path") }
        }
        if let v = f["hostname"], let host = word(v, p("hostname"), what: "a host name") {
            if Self.isHostname(host) {
                c.hostname = host
            } else {
                invalid(p("hostname"), "\"\(host)\" is not a host name; use up to 63 letters, digits, '-' and '.'")
            }
        }
        if let v = f["read_only"] { c.readOnly = bool(v, p("read_only")) ?? false }
        if let v = f["cap_add"] { c.capAdd = strings(v, p("cap_add"), what: "capabilities such as NET_ADMIN") ?? [] }
        if let v = f["cap_drop"] { c.capDrop = strings(v, p("cap_drop"), what: "capabilities such as NET_RAW") ?? [] }
        if let v = f["stop_signal"] { c.stopSignal = word(v, p("stop_signal"), what: "a signal such as SIGTERM") }
        if let v = f["privileged"] { c.privileged = bool(v, p("privileged")) ?? false }
        if let v = f["security_opt"] { c.securityOpt = securityOptions(v, p("security_opt")) }
        if let v = f["tmpfs"] { c.tmpfs = strings(v, p("tmpfs"), what: "container paths such as /run:size=64m", single: true) ?? [] }
        if let v = f["ulimits"] { c.ulimits = ulimits(v, p("ulimits")) }
        if let v = f["sysctls"], let pairs = keyValues(v, p("sysctls"), what: "kernel parameters") {
            for (key, value) in pairs {
                guard let value else {
                    invalid(Self.join(p("sysctls"), key), "has no value; write \(key): VALUE")
                    continue
                }
                c.sysctls[key] = value
            }
        }
        if let v = f["shm_size"], let n = bytes(v, p("shm_size")) { c.shmSize = String(n) }
        if let v = f["init"] { c.initProcess = bool(v, p("init")) ?? false }
        if let v = f["userns_mode"], let mode = word(v, p("userns_mode"), what: "host or remap") {
            if mode == "host" || mode == "remap" { c.userns = mode } else { invalid(p("userns_mode"), "\"\(mode)\": use host or remap") }
        }

        var spec = ServiceSpec(name: name, task: TaskTemplate(container: c))
        if let v = f["networks"] {
            spec.aliases = serviceNetworks(v, p("networks"))
            if let mode = c.network, mode != "bridge", !spec.aliases.isEmpty {
                invalid(p("networks"), "aliases need network_mode: bridge (a \(mode) container is not on the stack's network)")
            }
        }
        if let v = f["deploy"] { deploy(v, p("deploy"), into: &spec) }
        guard problems.count == before else { return nil }
        do {
            // The manager's own checks, so a stack is refused at deploy time for what `service create` would refuse.
            try spec.validate()
        } catch {
            invalid(path, "\(error)")
            return nil
        }
        return spec
    }

    /// `security_opt`: Docker's options; a `seccomp` profile path is read here (relative to the
    /// compose file) and sent as its JSON, as `pier run` sends it.
    mutating func securityOptions(_ value: YAMLValue, _ path: String) -> [String] {
        guard let entries = strings(value, path, what: "options such as no-new-privileges:true or seccomp:profile.json") else { return [] }
        var out: [String] = []
        for (i, entry) in entries.enumerated() {
            guard entry.hasPrefix("seccomp:") || entry.hasPrefix("seccomp=") else { out.append(entry); continue }
            let file = String(entry.dropFirst("seccomp:".count))
            guard !file.isEmpty, file != "unconfined", file.first != "{" else { out.append(entry); continue }
            let full = file.hasPrefix("/") ? file : directory + "/" + file
            guard let text = try? String(contentsOfFile: full, encoding: .utf8) else {
                invalid(Self.index(path, i), "cannot read the seccomp profile \(full)")
                continue
            }
            out.append("seccomp=" + text)
        }
        return out
    }

    /// `ulimits`: `nofile: {soft: 1024, hard: 2048}` or `nproc: 512`.
    mutating func ulimits(_ value: YAMLValue, _ path: String) -> [String] {
        guard let entries = entries(value, path, what: "resource limits") else { return [] }
        var out: [String] = []
        for entry in entries {
            let p = Self.join(path, entry.key)
            if case .mapping = entry.value {
                guard let m = mapping(entry.value, p, allowed: ["soft", "hard"]),
                    let softValue = m["soft"], let hardValue = m["hard"],
                    let soft = int(softValue, Self.join(p, "soft"), atLeast: -1), let hard = int(hardValue, Self.join(p, "hard"), atLeast: -1)
                else {
                    invalid(p, "expected soft: and hard: limits")
                    continue
                }
                out.append("\(entry.key)=\(soft):\(hard)")
            } else if let n = int(entry.value, p, atLeast: -1) {
                out.append("\(entry.key)=\(n)")
            }
        }
        return out
    }

    /// `command` / `entrypoint`: a string split like a shell would, or a list taken as is.
    mutating func commandLine(_ value: YAMLValue, _ path: String) -> [String]? {
        switch value {
        case .null:
            return nil
        case .scalar:
            guard let line = string(value, path) else { return nil }
            do {
                return try ShellWords.split(line)
            } catch {
                invalid(path, "\"\(line)\" \(error.message); quote it properly or write the command as a list")
                return nil
            }
        case .sequence(let items):
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = string(item, Self.index(path, i)) else {
                    if item == .null { invalid(Self.index(path, i), "is empty; write \"\" for an empty argument") }
                    return nil
                }
                guard !s.contains("\0") else {
                    invalid(Self.index(path, i), "contains a NUL character")
                    return nil
                }
                out.append(s)
            }
            return out
        case .mapping:
            invalid(path, "expected a command line or a list of arguments, found a mapping")
            return nil
        }
    }

    /// `environment`: list or mapping; a bare `K` (or `K:` with no value) takes K from the
    /// environment `pier stack deploy` runs in, and is left out when that has no K, as Compose does.
    mutating func environment(_ value: YAMLValue, _ path: String) -> [String] {
        guard let pairs = keyValues(value, path, what: "environment variables") else { return [] }
        var order: [String] = []
        var values: [String: String] = [:]
        for pair in pairs {
            guard let v = pair.value ?? interpolation.environment[pair.key] else { continue }
            if values.updateValue(v, forKey: pair.key) == nil { order.append(pair.key) }
        }
        return order.compactMap { k in values[k].map { "\(k)=\($0)" } }
    }

    /// `devices`: `HOST[:CONTAINER[:PERMISSIONS]]` with absolute paths and permissions from `rwm`.
    mutating func devices(_ value: YAMLValue, _ path: String) -> [String] {
        guard let items = strings(value, path, what: "device paths such as /dev/gpiochip0") else { return [] }
        var out: [String] = []
        for (i, d) in items.enumerated() {
            let parts = d.split(separator: ":", omittingEmptySubsequences: false)
            let permsOK = parts.count < 3 || (!parts[2].isEmpty && parts[2].allSatisfy { "rwm".contains($0) })
            guard parts.count <= 3, parts[0].hasPrefix("/"), parts.count < 2 || parts[1].hasPrefix("/"), permsOK else {
                invalid(Self.index(path, i), "\"\(d)\" is not a device mapping; expected HOST[:CONTAINER[:rwm]] with absolute paths, e.g. /dev/gpiochip0 or /dev/ttyUSB0:/dev/ttyS0:rw")
                continue
            }
            out.append(d)
        }
        return out
    }

    static func isHostname(_ h: String) -> Bool {
        guard h.count <= 63, let first = h.first, let last = h.last, first != "-", first != ".", last != "-", last != "." else {
            return false
        }
        return h.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
        }
    }
}
