import Foundation
import PierAPI

/// The STATUS and CREATED words of `pier ps`, as Docker prints them.
public enum ContainerStatus {
    /// `Up 3 minutes (healthy)`, `Exited (1) 2 seconds ago`, `Restarting (1) 5 seconds ago`, `Created`, `Dead`.
    public static func describe(_ c: ContainerSummary, now: Date) -> String {
        func since(_ date: Date?) -> String {
            HumanDuration.describe(seconds: now.timeIntervalSince(date ?? now))
        }
        if let reason = c.invalid { return "invalid: \(reason)" }
        switch c.state {
        case .running:
            let up = "Up " + since(c.startedAt)
            switch c.health {
            case .none: return up
            case .starting: return up + " (health: starting)"
            case .healthy: return up + " (healthy)"
            case .unhealthy: return up + " (unhealthy)"
            }
        case .restarting:
            return "Restarting (\(c.exitCode ?? 0)) \(since(c.finishedAt ?? c.startedAt)) ago"
        case .created:
            return "Created"
        case .dead:
            return "Dead"
        case .exited:
            if c.startedAt == nil && c.finishedAt == nil { return "Created" }
            return "Exited (\(c.exitCode ?? 0)) \(since(c.finishedAt)) ago"
        }
    }

    /// `3 minutes ago`.
    public static func ago(_ date: Date, now: Date) -> String {
        HumanDuration.describe(seconds: now.timeIntervalSince(date)) + " ago"
    }
}
