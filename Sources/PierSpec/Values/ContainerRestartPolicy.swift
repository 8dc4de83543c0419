import Foundation

/// `--restart`: what happens when a container's main process exits.
public struct ContainerRestartPolicy: Equatable, Sendable {
    public enum Kind: String, Sendable { case no, onFailure = "on-failure", always, unlessStopped = "unless-stopped" }
    public var kind: Kind
    /// For on-failure: restarts allowed, nil for unlimited.
    public var maxRetries: Int?

    /// The most restarts `on-failure:N` may allow.
    public static let maxRetries = 10_000

    public static let no = ContainerRestartPolicy(kind: .no, maxRetries: nil)

    /// Parses `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N`.
    public init(parsing text: String?) throws {
        guard let text, !text.isEmpty else { self = .no; return }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard let kind = Kind(rawValue: parts[0]) else {
            throw ContainerSpecError.invalid(flag: "--restart", value: text, expected: "expected no, on-failure[:N], always or unless-stopped")
        }
        var retries: Int?
        if parts.count == 2 {
            guard kind == .onFailure, let n = Int(parts[1]), (0...Self.maxRetries).contains(n) else {
                throw ContainerSpecError.invalid(
                    flag: "--restart", value: text, expected: "only on-failure takes a count, a whole number from 0 to \(Self.maxRetries)")
            }
            retries = n
        }
        self.init(kind: kind, maxRetries: retries)
    }

    public init(kind: Kind, maxRetries: Int?) { self.kind = kind; self.maxRetries = maxRetries }

    /// Whether a container that exited with `exitCode` after `restartCount` restarts comes back.
    public func shouldRestart(exitCode: Int32, restartCount: Int, manuallyStopped: Bool) -> Bool {
        if manuallyStopped { return false }
        switch kind {
        case .no: return false
        case .always, .unlessStopped: return true
        case .onFailure:
            guard exitCode != 0 else { return false }
            if let maxRetries { return restartCount < maxRetries }
            return true
        }
    }

    /// Docker's backoff: 100 ms doubling per consecutive restart, at most a minute; a container
    /// that ran for 10 s or more starts over at 100 ms.
    public static func delay(previous: Duration?, ranFor: TimeInterval) -> Duration {
        guard let previous, ranFor < 10 else { return .milliseconds(100) }
        return min(previous * 2, .seconds(60))
    }
}
