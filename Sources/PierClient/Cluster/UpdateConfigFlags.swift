import PierCluster

/// `--update-*` or `--rollback-*` flags as typed; nil means not given. ``apply(to:family:)``
/// changes only what was given, so `service create` and `service update` share it.
public struct UpdateConfigFlags: Sendable, Equatable {
    public var parallelism: Int?
    /// A duration: `10s`, `1m`.
    public var delay: String?
    /// `pause`, `continue` or (updates only) `rollback`.
    public var failureAction: String?
    /// A duration.
    public var monitor: String?
    public var maxFailureRatio: Double?
    /// `stop-first` or `start-first`.
    public var order: String?

    public init() {}

    /// True when no flag of the family was given.
    public var isEmpty: Bool { self == UpdateConfigFlags() }

    /// Which family the flags belong to; it names the flags in errors.
    public enum Family: String, Sendable {
        case update, rollback
    }

    /// Applies the given flags to `config`; errors name the flag and its value.
    public func apply(to config: inout UpdateConfig, family: Family) throws(ClientError) {
        let prefix = "--\(family.rawValue)-"
        if let parallelism {
            guard parallelism >= 0 else {
                throw .invalidArgument("\(prefix)parallelism \(parallelism): give 0 (all at once) or more tasks")
            }
            config.parallelism = parallelism
        }
        if let delay { config.delaySeconds = try RunOptions.duration(delay, flag: prefix + "delay", allowZero: true) }
        if let monitor { config.monitorSeconds = try RunOptions.duration(monitor, flag: prefix + "monitor", allowZero: true) }
        if let failureAction {
            let allowed: [UpdateConfig.FailureAction] = family == .update ? [.pause, .continue, .rollback] : [.pause, .continue]
            guard let action = UpdateConfig.FailureAction(rawValue: failureAction), allowed.contains(action) else {
                throw .invalidArgument("\(prefix)failure-action \"\(failureAction)\": use \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            config.failureAction = action
        }
        if let maxFailureRatio {
            guard (0...1).contains(maxFailureRatio) else {
                throw .invalidArgument("\(prefix)max-failure-ratio \(maxFailureRatio): give a fraction from 0 to 1, e.g. 0.2")
            }
            config.maxFailureRatio = maxFailureRatio
        }
        if let order {
            guard let parsed = UpdateConfig.Order(rawValue: order) else {
                throw .invalidArgument("\(prefix)order \"\(order)\": use stop-first or start-first")
            }
            config.order = parsed
        }
    }
}
