import Dispatch

/// Runs blocking work (a subprocess, a pipe read) on a Dispatch thread so it does not occupy
/// one of the few threads of Swift's cooperative pool (two on a two-core gateway).
func onBlockingThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Same as `onBlockingThread`, on a given (e.g. serial) queue.
func onQueue<T: Sendable>(_ queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async {
            continuation.resume(with: Result { try body() })
        }
    }
}
