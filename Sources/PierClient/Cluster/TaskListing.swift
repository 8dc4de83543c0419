import Foundation
import PierCluster

/// The `pier service ps`, `node ps` and `stack ps` table, as `docker service ps` prints it: the
/// newest task of each slot first, the tasks it replaced below it as ` \_ web.1` history rows.
public enum TaskListing {
    public static let header = ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR"]

    /// Errors longer than this are cut in the table unless `--no-trunc` (Docker's 30).
    static let maxErrorLength = 30

    /// `tasks` grouped by service and slot (global services: by node), each group newest first;
    /// `isHistory` is true for every task but the newest of its group.
    public static func ordered(_ tasks: [ClusterTask]) -> [(task: ClusterTask, isHistory: Bool)] {
        // Slots compare as numbers: zero-padded, so slot 10 sorts after slot 9.
        func slotKey(_ t: ClusterTask) -> String {
            guard let slot = t.slot else { return t.nodeID ?? t.id }
            let digits = String(slot)
            return String(repeating: "0", count: max(0, 10 - digits.count)) + digits
        }
        let sorted = tasks.sorted { a, b in
            if a.serviceName != b.serviceName { return a.serviceName < b.serviceName }
            if slotKey(a) != slotKey(b) { return slotKey(a) < slotKey(b) }
            if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
            return a.id < b.id
        }
        var seen = Set<String>()
        return sorted.map { t in
            let group = t.serviceID + "/" + slotKey(t)
            return (t, !seen.insert(group).inserted)
        }
    }

    /// One row per task; `nodes` turn node ids into hostnames; `now` is the clock for relative times.
    public static func table(_ tasks: [ClusterTask], nodes: [Node], now: Date, truncate: Bool = true) -> TextTable {
        let hostnames = Dictionary(nodes.map { ($0.id, $0.description.hostname) }, uniquingKeysWith: { a, _ in a })
        return TextTable(header: header, rows: ordered(tasks).map { task, isHistory in
            let name = truncate ? task.name : "\(task.name).\(task.id)"
            let node = task.nodeID.map { hostnames[$0] ?? (truncate ? Identifiers.short($0) : $0) } ?? ""
            return [
                truncate ? Identifiers.short(task.id) : task.id,
                isHistory ? " \\_ " + name : name,
                truncate ? ServiceListing.withoutDigest(task.image) : task.image,
                node,
                stateWord(task.desiredState),
                currentState(task, now: now),
                error(task, truncate: truncate),
            ]
        })
    }

    /// `Running 5 seconds ago`, `Failed about a minute ago`, `Pending less than a second ago`.
    public static func currentState(_ task: ClusterTask, now: Date) -> String {
        let since = HumanDuration.describe(seconds: now.timeIntervalSince(task.status.timestamp))
        return "\(stateWord(task.status.state)) \(since.lowercased()) ago"
    }

    /// `Running`, `Shutdown`, `Complete`: a task state as Docker capitalizes it.
    public static func stateWord(_ state: TaskState) -> String {
        state.rawValue.prefix(1).uppercased() + state.rawValue.dropFirst()
    }

    /// The task's error in quotes, cut to 30 characters unless `truncate` is false; a pending
    /// task shows why it is not scheduled.
    public static func error(_ task: ClusterTask, truncate: Bool) -> String {
        var text = task.status.error ?? ""
        if text.isEmpty, task.status.state == .pending, task.status.message != "pending task scheduling" {
            text = task.status.message
        }
        guard !text.isEmpty else { return "" }
        if truncate { text = Identifiers.truncate(text, to: maxErrorLength) }
        return "\"\(text)\""
    }
}
