import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Timing of the activation path on stderr, with PIER_TRACE=1 (for benchmarks), from the agent
/// and the manager alike: seconds on CLOCK_MONOTONIC, the clock of `perf record -k mono`, to
/// line up with scheduler events.
public func trace(_ what: String) {
    guard tracing else { return }
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let seconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    FileHandle.standardError.write(Data("trace \(String(format: "%.6f", seconds)) \(what)\n".utf8))
}

private let tracing = ProcessInfo.processInfo.environment["PIER_TRACE"] == "1"
