import Foundation
import PierAPI
import PierCluster

/// `pier service logs`: the manager asks each node holding a task of the service for its
/// containers' output over the node's session and relays it, each line prefixed with its task
/// (`web.1.0123456789ab@node-a | `), as `docker service logs` prints it.
struct LogRelay {
    let continuation: AsyncStream<StreamFrame>.Continuation
    /// Nodes that have not sent their last chunk yet.
    var pending: Set<String>
    /// Per task: the prefix of its lines, the node holding it (only that node may send its
    /// output), and whether its output so far ended a line.
    var prefixes: [String: [UInt8]]
    var owners: [String: String]
    var atLineStart: [String: Bool] = [:]
}

extension Manager {
    /// The output of `ref`'s task containers on every connected node holding one, ending
    /// when each node has sent it (with `follow`, when the caller stops reading). A node that
    /// is not connected gets one line on stderr saying so.
    public func serviceLogs(_ ref: String, tail: Int?, follow: Bool, timestamps: Bool) async throws -> AsyncStream<StreamFrame> {
        if let tail, tail < 0 { throw ManagerError.invalid("tail: \(tail) must be 0 or more") }
        let service = try lookupService(ref)
        let held = tasks.values.filter { $0.serviceID == service.id && $0.nodeID != nil }
        let requestID = UUID().uuidString
        let (stream, continuation) = AsyncStream<StreamFrame>.makeStream()
        var prefixes: [String: [UInt8]] = [:]
        var owners: [String: String] = [:]
        var byNode: [String: [String]] = [:]
        for t in held.sorted(by: { ($0.slot ?? 0, $0.createdAt) < ($1.slot ?? 0, $1.createdAt) }) {
            guard let nodeID = t.nodeID else { continue }
            let host = nodes[nodeID]?.description.hostname ?? nodeID
            let slot = t.slot.map(String.init) ?? String(nodeID.prefix(12))
            prefixes[t.id] = Array("\(t.serviceName).\(slot).\(t.id.prefix(12))@\(host)    | ".utf8)
            owners[t.id] = nodeID
            byNode[nodeID, default: []].append(t.id)
        }
        var relay = LogRelay(continuation: continuation, pending: [], prefixes: prefixes, owners: owners)
        var requests: [(Session, LogsRequest)] = []
        for (nodeID, taskIDs) in byNode.sorted(by: { $0.key < $1.key }) {
            guard let session = sessions[nodeID] else {
                let host = nodes[nodeID]?.description.hostname ?? nodeID
                continuation.yield(StreamFrame(kind: .stderr, payload: Array(
                    "pier: node \(host) is not connected; the output of its \(taskIDs.count) task(s) is not available\n".utf8)))
                continue
            }
            relay.pending.insert(nodeID)
            requests.append((session, LogsRequest(requestID: requestID, taskIDs: taskIDs, tail: tail, follow: follow, timestamps: timestamps)))
        }
        if relay.pending.isEmpty {
            continuation.finish()
            return stream
        }
        logRelays[requestID] = relay
        continuation.onTermination = { [weak self] _ in
            Task { await self?.endLogs(requestID) }
        }
        for (session, request) in requests { await session.send(.logsRequest(request)) }
        return stream
    }

    /// A chunk from `nodeID`: its records go out prefixed; its last one may end the stream.
    func relayLogs(_ chunk: LogChunk, from nodeID: String) {
        guard var relay = logRelays[chunk.requestID], relay.pending.contains(nodeID) else { return }
        if let taskID = chunk.taskID, relay.owners[taskID] == nodeID, let prefix = relay.prefixes[taskID] {
            var atStart = relay.atLineStart[taskID] ?? true
            for record in chunk.records {
                var out: [UInt8] = []
                out.reserveCapacity(record.data.count + prefix.count)
                for byte in record.data {
                    if atStart { out += prefix }
                    out.append(byte)
                    atStart = byte == UInt8(ascii: "\n")
                }
                relay.continuation.yield(StreamFrame(kind: record.stream == "stderr" ? .stderr : .stdout, payload: out))
            }
            relay.atLineStart[taskID] = atStart
        }
        if chunk.end { relay.pending.remove(nodeID) }
        if relay.pending.isEmpty {
            logRelays[chunk.requestID] = nil
            relay.continuation.finish()
        } else {
            logRelays[chunk.requestID] = relay
        }
    }

    /// The reader went away: nodes still sending (following) are told to stop.
    func endLogs(_ requestID: String) async {
        guard let relay = logRelays.removeValue(forKey: requestID) else { return }
        for nodeID in relay.pending { await sessions[nodeID]?.send(.logsCancel(requestID)) }
    }

    /// A node's session ended: streams waiting for it say so and go on without it.
    func logsLost(nodeID: String) {
        for (id, var relay) in logRelays where relay.pending.contains(nodeID) {
            let host = nodes[nodeID]?.description.hostname ?? nodeID
            relay.continuation.yield(StreamFrame(kind: .stderr, payload: Array("pier: lost the session with node \(host); its output ends here\n".utf8)))
            relay.pending.remove(nodeID)
            if relay.pending.isEmpty {
                logRelays[id] = nil
                relay.continuation.finish()
            } else {
                logRelays[id] = relay
            }
        }
    }
}
