/// What one node's agent must run and stop: the assignment set the manager sends it.
/// An agent stops any container whose task is in neither list (a pruned or unknown task).
public struct NodeAssignment: Sendable, Equatable {
    public var nodeID: String
    /// Assigned tasks the manager wants running, not ended.
    public var run: [ClusterTask]
    /// Tasks on the node being shut down, or orphaned while the node was away, whose
    /// containers may still exist.
    public var stop: [ClusterTask]

    public init(nodeID: String, run: [ClusterTask] = [], stop: [ClusterTask] = []) {
        self.nodeID = nodeID; self.run = run; self.stop = stop
    }

    /// The node's assignment set from the store's tasks (any order; results sorted by task id).
    public init(nodeID: String, tasks: some Sequence<ClusterTask>) {
        self.init(nodeID: nodeID)
        let ended: Set<TaskState> = [.complete, .failed, .shutdown, .rejected]
        for task in tasks where task.nodeID == nodeID && task.status.state >= .assigned {
            if task.desiredState == .running && !task.status.state.isTerminal {
                run.append(task)
            } else if task.status.state == .orphaned || (task.desiredState > .running && !ended.contains(task.status.state)) {
                stop.append(task)
            }
        }
        run.sort { $0.id < $1.id }
        stop.sort { $0.id < $1.id }
    }
}

extension NodeAssignment {
    /// The images a node should fetch ahead of an update (download-then-switch): the image of
    /// each service being updated or rolled back, when the node runs a task of it that has
    /// another image. Sorted, each once.
    public static func stage(nodeID: String, tasks: some Sequence<ClusterTask>, services: [String: Service]) -> [String] {
        var images = Set<String>()
        for task in tasks where task.nodeID == nodeID && task.desiredState == .running && !task.status.state.isTerminal {
            guard let service = services[task.serviceID],
                  let state = service.updateStatus?.state, state == .updating || state == .rollbackStarted else { continue }
            let image = service.spec.task.container.image
            if task.image != image { images.insert(image) }
        }
        return images.sorted()
    }
}
