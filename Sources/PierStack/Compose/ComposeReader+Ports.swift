extension ComposeReader {
    static let portExpected = "expected [HOST_IP:]HOST:CONTAINER[/udp] such as 8080:80, 5683:5683/udp or 127.0.0.1:8080:80"

    /// `ports`, short (`"8080:80/udp"`) and long (`target`, `published`, `protocol`, `mode`,
    /// `host_ip`) syntax, as `pier run --publish` values. A port is published on the node that runs
    /// the task (Swarm's `mode: host`); there is no ingress routing mesh.
    mutating func ports(_ value: YAMLValue, _ path: String) -> [String] {
        guard let items = list(value, path, of: "ports") else { return [] }
        var out: [String] = []
        var seen: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            let p = Self.index(path, i)
            let port: PortSpec?
            if case .mapping = item { port = longPort(item, p) } else { port = shortPort(item, p) }
            guard let port else { continue }
            let key = "\(port.hostIP ?? "0.0.0.0"):\(port.published)/\(port.proto)"
            if let first = seen[key] {
                invalid(p, "host port \(port.published)/\(port.proto) is already published by \(Self.index(path, first)); each host port can be published once")
                continue
            }
            seen[key] = i
            out.append(port.flag)
        }
        return out
    }

    struct PortSpec {
        var hostIP: String?
        var published: Int
        var target: Int
        var proto: String
        var flag: String {
            (hostIP.map { "\($0):" } ?? "") + "\(published):\(target)" + (proto == "udp" ? "/udp" : "")
        }
    }

    private mutating func shortPort(_ value: YAMLValue, _ path: String) -> PortSpec? {
        guard let text = word(value, path, what: Self.portExpected) else {
            if value == .null { invalid(path, "is empty; \(Self.portExpected)") }
            return nil
        }
        var spec = Substring(text)
        var proto = "tcp"
        if let slash = spec.lastIndex(of: "/") {
            proto = String(spec[spec.index(after: slash)...]).lowercased()
            spec = spec[..<slash]
            guard proto == "tcp" || proto == "udp" else {
                invalid(path, "\"\(text)\": protocol \"\(proto)\" is not supported; expected tcp or udp")
                return nil
            }
        }
        if spec.hasPrefix("[") {
            invalid(path, "\"\(text)\": IPv6 host addresses are not supported; \(Self.portExpected)")
            return nil
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.contains(where: { $0.contains("-") }) {
            invalid(path, "\"\(text)\": port ranges are not supported; list each port on its own line")
            return nil
        }
        guard parts.count == 2 || parts.count == 3 else {
            if parts.count == 1 {
                invalid(path, "\"\(text)\" publishes no host port (Compose would pick a random one, which Pier does not do); write HOST:CONTAINER such as \(parts[0]):\(parts[0])")
            } else {
                invalid(path, "\"\(text)\" is not a port mapping; \(Self.portExpected)")
            }
            return nil
        }
        var hostIP: String?
        if parts.count == 3 {
            guard Self.isIPv4(parts[0]) else {
                invalid(path, "\"\(text)\": \"\(parts[0])\" is not an IPv4 address; \(Self.portExpected)")
                return nil
            }
            hostIP = parts[0]
        }
        let hostPart = parts[parts.count - 2]
        guard !hostPart.isEmpty else {
            invalid(path, "\"\(text)\" publishes no host port (Compose would pick a random one, which Pier does not do); give the host port")
            return nil
        }
        guard let host = Self.portNumber(hostPart), let target = Self.portNumber(parts[parts.count - 1]) else {
            invalid(path, "\"\(text)\": ports must be numbers from 1 to 65535; \(Self.portExpected)")
            return nil
        }
        return PortSpec(hostIP: hostIP, published: host, target: target, proto: proto)
    }

    private mutating func longPort(_ value: YAMLValue, _ path: String) -> PortSpec? {
        let hints = [
            "name": "not supported: ports are identified by number",
            "app_protocol": "not supported: Pier forwards tcp and udp without looking at the protocol",
        ]
        guard let f = mapping(value, path, allowed: ["target", "published", "protocol", "mode", "host_ip"], hints: hints) else {
            return nil
        }
        let before = problems.count
        var target: Int?
        if let v = f["target"], let s = string(v, Self.join(path, "target")) {
            target = Self.portNumber(s)
            if target == nil { invalid(Self.join(path, "target"), "\"\(s)\" is not a port number from 1 to 65535") }
        } else {
            invalid(Self.join(path, "target"), "is required: the container port")
        }
        var published: Int?
        if let v = f["published"], let s = string(v, Self.join(path, "published")) {
            published = Self.portNumber(s)
            if s.contains("-") {
                invalid(Self.join(path, "published"), "\"\(s)\": port ranges are not supported; list each port")
            } else if published == nil {
                invalid(Self.join(path, "published"), "\"\(s)\" is not a port number from 1 to 65535")
            }
        } else {
            invalid(Self.join(path, "published"), "is required: the host port (Pier does not pick random host ports)")
        }
        var proto = "tcp"
        if let v = f["protocol"], let s = string(v, Self.join(path, "protocol")) {
            proto = s.lowercased()
            if proto != "tcp" && proto != "udp" {
                invalid(Self.join(path, "protocol"), "\"\(s)\" is not supported; expected tcp or udp")
            }
        }
        if let v = f["mode"], let s = string(v, Self.join(path, "mode")), s != "host" {
            if s == "ingress" {
                invalid(Self.join(path, "mode"), "\"ingress\" is not supported: Pier has no routing mesh and publishes the port on the node that runs the task; write mode: host")
            } else {
                invalid(Self.join(path, "mode"), "\"\(s)\" is not one of host, ingress")
            }
        }
        var hostIP: String?
        if let v = f["host_ip"], let s = string(v, Self.join(path, "host_ip")) {
            if Self.isIPv4(s) { hostIP = s } else { invalid(Self.join(path, "host_ip"), "\"\(s)\" is not an IPv4 address") }
        }
        guard problems.count == before, let target, let published else { return nil }
        return PortSpec(hostIP: hostIP, published: published, target: target, proto: proto)
    }

    static func portNumber(_ s: String) -> Int? {
        guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(s), (1...65535).contains(n) else {
            return nil
        }
        return n
    }

    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in
            !p.isEmpty && p.count <= 3 && p.allSatisfy { $0.isASCII && $0.isNumber } && (Int(p) ?? 256) <= 255
        }
    }
}
