import Dispatch

/// Runs blocking file-system work (unpacking, archiving) on a dispatch queue, so that it does
/// not hold one of the few threads of Swift's cooperative pool.
enum BlockingIO {
    @discardableResult
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
