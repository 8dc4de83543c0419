#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// `-p [IP:]HOST:CONTAINER[/tcp|udp]`: a host port forwarded to the container (bridge network).
public struct PortMapping: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum TransportProtocol: String, Sendable, Hashable, Codable {
        case tcp, udp
    }

    /// Host address to listen on; nil for all.
    public var hostIP: String?
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var transport: TransportProtocol

    public init(hostIP: String? = nil, hostPort: UInt16, containerPort: UInt16, transport: TransportProtocol = .tcp) {
        self.hostIP = hostIP; self.hostPort = hostPort; self.containerPort = containerPort; self.transport = transport
    }

    public init(parsing text: String) throws {
        let flag = "--publish"
        let expected = "expected [IP:]HOST:CONTAINER[/tcp|udp] with ports 1-65535, e.g. 8080:80 or 127.0.0.1:5683:5683/udp"
        var spec = Substring(text)
        var transport = TransportProtocol.tcp
        if let slash = spec.lastIndex(of: "/") {
            guard let t = TransportProtocol(rawValue: String(spec[spec.index(after: slash)...]).lowercased()) else {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: expected)
            }
            transport = t
            spec = spec[..<slash]
        }
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3,
            let hostPort = UInt16(parts[parts.count - 2]), hostPort > 0,
            let containerPort = UInt16(parts[parts.count - 1]), containerPort > 0
        else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: expected)
        }
        var hostIP: String?
        if parts.count == 3 {
            var address = in_addr()
            guard inet_pton(AF_INET, parts[0], &address) == 1 else {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "\(parts[0]) is not an IPv4 address; \(expected)")
            }
            hostIP = parts[0] == "0.0.0.0" ? nil : parts[0]
        }
        self.init(hostIP: hostIP, hostPort: hostPort, containerPort: containerPort, transport: transport)
    }

    public var description: String {
        (hostIP.map { "\($0):" } ?? "") + "\(hostPort):\(containerPort)/\(transport.rawValue)"
    }
}
