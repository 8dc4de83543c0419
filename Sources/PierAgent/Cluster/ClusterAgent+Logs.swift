import Foundation
import PierAPI
import PierCluster

extension ClusterAgent {
    /// Largest output sent in one session message (the session refuses messages over 4 MiB,
    /// and base64 adds a third).
    static let logChunkBytes = 512 << 10

    /// Answers a `logsRequest`: each task container's stored output (its last `tail` records),
    /// then, when following, new output every 200 ms until `logsCancel` or the session ends.
    /// Tasks without a container here are skipped. The last message has `end` set.
    func startLogs(_ request: LogsRequest, send: @escaping @Sendable (AgentMessage) async throws -> Void) {
        let containers = node.containers
        let id = request.requestID
        logStreams.removeValue(forKey: id)?.cancel()
        logStreams[id] = Task {
            var followers: [(taskID: String, follower: LogFollower)] = []
            do {
                let wanted = Set(request.taskIDs)
                let held = try await containers.list(all: true).filter { $0.labels[Self.taskLabel].map(wanted.contains) ?? false }
                for c in held.sorted(by: { $0.created < $1.created }) {
                    guard let taskID = c.labels[Self.taskLabel] else { continue }
                    let path = await containers.logPath(c.id)
                    // Opened at the end before the backlog is read: nothing written in between is lost
                    // (a line written in that instant may come twice).
                    if request.follow, let f = try? LogFollower(path: path, fromEnd: true, timestamps: request.timestamps) {
                        followers.append((taskID, f))
                    }
                    try await Self.send(ContainerLog(path: path).read(tail: request.tail, timestamps: request.timestamps),
                                        requestID: id, taskID: taskID, send)
                }
                while request.follow, !Task.isCancelled {
                    try await Task.sleep(for: .milliseconds(200))
                    for (taskID, follower) in followers {
                        try await Self.send(follower.poll(), requestID: id, taskID: taskID, send)
                    }
                }
            } catch {}
            guard !Task.isCancelled else { return }
            try? await send(.logs(LogChunk(requestID: id, end: true)))
            await self.logsFinished(id)
        }
    }

    private func logsFinished(_ id: String) { logStreams[id] = nil }

    private static func send(_ frames: [StreamFrame], requestID: String, taskID: String,
                             _ send: @Sendable (AgentMessage) async throws -> Void) async throws {
        var records: [LogChunk.Record] = []
        var size = 0
        for frame in frames where frame.kind == .stdout || frame.kind == .stderr {
            records.append(LogChunk.Record(stream: frame.kind == .stdout ? "stdout" : "stderr", data: Data(frame.payload)))
            size += frame.payload.count
            if size >= logChunkBytes {
                try await send(.logs(LogChunk(requestID: requestID, taskID: taskID, records: records)))
                records = []
                size = 0
            }
        }
        if !records.isEmpty { try await send(.logs(LogChunk(requestID: requestID, taskID: taskID, records: records))) }
    }
}
