import Foundation
import PierCluster

extension Manager {
    // MARK: Nodes

    public func listNodes() -> [Node] {
        nodes.values.sorted { ($0.description.hostname, $0.id) < ($1.description.hostname, $1.id) }
    }

    /// By id, unique id prefix or hostname.
    public func lookupNode(_ ref: String) throws -> Node {
        if let n = nodes[ref] { return n }
        let byName = nodes.values.filter { $0.description.hostname == ref }
        if byName.count == 1 { return byName[0] }
        if byName.count > 1 { throw ManagerError.conflict("several nodes are named \(ref); use the node id") }
        let byPrefix = nodes.values.filter { $0.id.hasPrefix(ref) }
        if byPrefix.count == 1, ref.count >= 3 { return byPrefix[0] }
        throw ManagerError.notFound("no such node: \(ref)")
    }

    /// Adds a node at join time; it becomes ready when its agent's session says hello.
    public func addNode(id: String, role: NodeRole, hostname: String) async throws -> Node {
        let node = Node(
            id: id, role: role,
            description: NodeDescription(hostname: hostname, platform: Platform(os: "linux", architecture: ""), resources: .zero))
        var changes = ChangeSet()
        changes.nodes.append(node)
        changes.deletedMeta.append("removed.\(id)")
        try commit(changes)
        logger.info("node \(id) (\(hostname)) joined as \(role.rawValue)")
        return node
    }

    /// `pier node update`: availability and labels.
    public func updateNode(_ ref: String, availability: NodeAvailability?, labelAdd: [String: String], labelRemove: [String]) async throws -> Node {
        var node = try lookupNode(ref)
        if let a = availability { node.availability = a }
        for key in labelRemove {
            guard node.labels.removeValue(forKey: key) != nil else {
                throw ManagerError.invalid("label-rm: node \(node.description.hostname) has no label \(key)")
            }
        }
        for (k, v) in labelAdd {
            guard !k.isEmpty else { throw ManagerError.invalid("label-add: a label needs a key (KEY=VALUE)") }
            node.labels[k] = v
        }
        node.updatedAt = Date()
        var changes = ChangeSet()
        changes.nodes.append(node)
        try commit(changes)
        return node
    }

    /// Removes a node: its certificate is refused from now on and its tasks are rescheduled.
    /// A ready node is only removed with `force`, as in Swarm.
    public func removeNode(_ ref: String, force: Bool) async throws {
        let node = try lookupNode(ref)
        if node.state == .ready && !force {
            throw ManagerError.conflict("node \(node.description.hostname) is ready; drain it and stop its agent first, or use --force")
        }
        var changes = ChangeSet()
        changes.deletedNodes.append(node.id)
        changes.meta["removed.\(node.id)"] = ISO8601DateFormatter().string(from: Date())
        releaseSubnet(of: node, into: &changes)
        for var task in tasks.values where task.nodeID == node.id && !task.status.state.isTerminal {
            task.transition(to: TaskStatus(state: .orphaned, message: "node \(node.description.hostname) was removed"))
            changes.tasks.append(task)
        }
        try commit(changes)
        sessions[node.id]?.close()
        sessions[node.id] = nil
        logger.info("node \(node.id) removed; its certificate is no longer accepted")
    }

    /// Whether a node's certificate must be refused (the node was removed).
    public func isRemoved(_ nodeID: String) -> Bool { meta["removed.\(nodeID)"] != nil }

    public func isMember(_ nodeID: String) -> Bool { nodes[nodeID] != nil }
}
