import Foundation

extension ServiceDirectory {
    /// The directory the manager's state implies: one record per service, sorted by name, with
    /// the addresses of its tasks that run and are meant to (a task being stopped leaves at once),
    /// and, for tasks whose container has a health check, only the healthy ones.
    public init(services: some Sequence<Service>, tasks: some Sequence<ClusterTask>) {
        var addresses: [String: Set<String>] = [:]
        for task in tasks where Self.serves(task) {
            if let address = task.address { addresses[task.serviceID, default: []].insert(address) }
        }
        let records = services.map { service in
            ServiceRecord(
                serviceID: service.id, name: service.spec.name, stack: service.spec.labels[stackNamespaceLabel],
                aliases: service.spec.aliases, addresses: Self.sorted(addresses[service.id] ?? []))
        }
        self.init(services: records.sorted { ($0.name, $0.serviceID) < ($1.name, $1.serviceID) })
    }

    /// Whether a task's address answers for its service: running, wanted running, and healthy
    /// when its container has a health check.
    public static func serves(_ task: ClusterTask) -> Bool {
        guard task.status.state == .running, task.desiredState == .running, task.address != nil else { return false }
        return task.template.container.health == nil || task.health == "healthy"
    }

    /// Addresses in numeric order (10.0.0.9 before 10.0.0.10), so that equal sets compare equal.
    static func sorted(_ addresses: some Sequence<String>) -> [String] {
        addresses.sorted { a, b in
            switch (IPv4Network.parseAddress(a), IPv4Network.parseAddress(b)) {
            case let (x?, y?): return x < y
            default: return a < b
            }
        }
    }
}

extension ServiceRecord {
    /// The service's name within its stack (`web` for `shop_web` of stack `shop`); the whole name
    /// for a service without a stack.
    public var shortName: String {
        guard let stack, name.hasPrefix(stack + "_"), name.count > stack.count + 1 else { return name }
        return String(name.dropFirst(stack.count + 1))
    }

    /// The DNS names that resolve to the service's tasks, under `domain` (`pier`):
    /// `web.shop.pier`, `tasks.web.shop.pier`, `shop_web.pier` and `ALIAS.shop.pier` for a
    /// stack's service; `NAME.pier`, `tasks.NAME.pier` and `ALIAS.pier` without a stack.
    /// Lowercased: DNS names compare without case.
    public func names(domain: String = ServiceDirectory.domain) -> [String] {
        var out: [String]
        if let stack {
            let zone = "\(stack).\(domain)"
            out = ["\(shortName).\(zone)", "tasks.\(shortName).\(zone)", "\(name).\(domain)"] + aliases.map { "\($0).\(zone)" }
        } else {
            out = ["\(name).\(domain)", "tasks.\(name).\(domain)"] + aliases.map { "\($0).\(domain)" }
        }
        var seen: Set<String> = []
        return out.map { $0.lowercased() }.filter { seen.insert($0).inserted }
    }
}

extension ServiceDirectory {
    /// The zone every service name is under; the node's resolver answers it itself and forwards
    /// nothing in it.
    public static let domain = "pier"
}
