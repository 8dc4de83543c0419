import Synchronization

/// A counter of work in progress with a ceiling: `tryAcquire` takes a slot when one is free.
final class WorkSlots: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = max(0, limit) }

    /// Takes a slot; false when all `limit` are taken.
    func tryAcquire() -> Bool {
        used.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func release() { used.withLock { $0 = max(0, $0 - 1) } }

    var inUse: Int { used.withLock { $0 } }
}
