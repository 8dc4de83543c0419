import Foundation

/// Node liveness, and what a lost, removed or drained node means for its tasks.
extension ReconcilePass {
    mutating func detectDownNodes() {
        let grace = configuration.heartbeatGraceSeconds
        for i in nodes.indices where nodes[i].state == .ready {
            let last = nodes[i].lastHeartbeat ?? nodes[i].updatedAt
            let deadline = last.addingTimeInterval(grace)
            if now >= deadline {
                let silence = now.timeIntervalSince(last)
                let message = "heartbeat missed for \(String(format: "%.1f", silence))s (grace \(grace)s)"
                nodes[i].state = .down
                nodes[i].message = message
                downMessages.append((nodes[i].id, message))
            } else {
                wake(at: deadline)
            }
        }
    }

    /// What a node means for the tasks on it.
    enum NodeFate { case fine, removed, down, drained }

    /// Tasks on down or removed nodes become orphaned; tasks on drained nodes are shut down.
    mutating func handleLostAndDrainedNodes() {
        let fates: [NodeFate] = nodes.map { node in
            node.state == .down ? .down : node.availability == .drain ? .drained : .fine
        } + strayNodeIDs.map { _ in .removed }
        guard fates.contains(where: { $0 != .fine }) else { return }
        for i in stored.indices {
            let f = facts[i]
            guard f.node >= 0, fates[f.node] != .fine, !f.state.isTerminal else { continue }
            let nodeID = nodeName(f.node) ?? ""
            if f.state >= .assigned {
                switch fates[f.node] {
                case .removed:
                    setStatus(i, .orphaned, "node \(nodeID) removed", error: "node \(nodeID) was removed from the cluster")
                case .down:
                    setStatus(i, .orphaned, "node \(nodeID) down", error: "node \(nodeID) down: \(node(f.node)?.message ?? "no heartbeat")")
                case .drained where f.desiredState == .running:
                    shutDown(i)
                case .drained, .fine:
                    break
                }
            } else if f.desiredState == .running {
                shutDown(i)
            }
        }
    }

    mutating func handleRemovedServices() {
        for i in strayTasks where facts[i].desiredState == .running { shutDown(i) }
    }
}
