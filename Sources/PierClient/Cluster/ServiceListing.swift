import PierCluster

/// The `pier service ls` table, with REPLICAS counted from the tasks as `docker service ls` does.
public enum ServiceListing {
    public static let header = ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]

    /// A service and its task counts. Encodes as the service's wire object with
    /// `serviceStatus: {runningTasks, desiredTasks}` added (Docker's `ServiceStatus`).
    public struct Entry: Encodable, Sendable, Equatable {
        public var service: Service
        public var running: Int
        public var desired: Int

        public init(service: Service, running: Int, desired: Int) {
            self.service = service; self.running = running; self.desired = desired
        }

        private enum CodingKeys: String, CodingKey { case serviceStatus }
        private struct Status: Encodable { var runningTasks: Int; var desiredTasks: Int }

        public func encode(to encoder: any Encoder) throws {
            try service.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Status(runningTasks: running, desiredTasks: desired), forKey: .serviceStatus)
        }
    }

    /// Counts each service's tasks: running ones (not on a node that is down) and desired ones
    /// (the replica count, or for a global service its tasks that should be running).
    public static func entries(_ services: [Service], tasks: [ClusterTask], nodes: [Node] = []) -> [Entry] {
        let down = Set(nodes.filter { $0.state == .down }.map(\.id))
        var running: [String: Int] = [:]
        var wanted: [String: Int] = [:]
        for task in tasks {
            if task.status.state == .running, !(task.nodeID.map(down.contains) ?? false) {
                running[task.serviceID, default: 0] += 1
            }
            if task.desiredState == .running { wanted[task.serviceID, default: 0] += 1 }
        }
        return services.map { s in
            let desired: Int
            switch s.spec.mode {
            case .replicated(let n): desired = n
            case .global: desired = wanted[s.id] ?? 0
            }
            return Entry(service: s, running: running[s.id] ?? 0, desired: desired)
        }
    }

    public static func table(_ entries: [Entry], truncate: Bool = true) -> TextTable {
        TextTable(header: header, rows: entries.map { e in
            let spec = e.service.spec
            var replicas = "\(e.running)/\(e.desired)"
            if let max = spec.task.placement.maxReplicasPerNode, max > 0 { replicas += " (max \(max) per node)" }
            if let reason = e.service.invalid { replicas = "invalid: \(reason)" }
            return [
                truncate ? Identifiers.short(e.service.id) : e.service.id,
                spec.name,
                mode(spec.mode),
                replicas,
                truncate ? withoutDigest(spec.task.container.image) : spec.task.container.image,
                spec.task.container.publish.map(port).joined(separator: ", "),
            ]
        })
    }

    /// `replicated` or `global`.
    public static func mode(_ mode: ServiceMode) -> String {
        switch mode {
        case .replicated: "replicated"
        case .global: "global"
        }
    }

    /// `sensor:1.0@sha256:…` → `sensor:1.0`, as Docker shows pinned images in listings.
    public static func withoutDigest(_ image: String) -> String {
        image.firstIndex(of: "@").map { String(image[..<$0]) } ?? image
    }

    /// A publish entry as Docker prints it: `8080:80` → `*:8080->80/tcp`.
    public static func port(_ entry: String) -> String {
        let (ports, proto) = ServiceFlagValues.splitProtocol(entry)
        let parts = ports.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1: return "\(parts[0])/\(proto)"
        case 2: return "*:\(parts[0].isEmpty ? "" : parts[0])->\(parts[1])/\(proto)"
        default:
            let ip = parts.dropLast(2).joined(separator: ":")
            return "\(ip.isEmpty ? "*" : ip):\(parts[parts.count - 2])->\(parts[parts.count - 1])/\(proto)"
        }
    }
}
