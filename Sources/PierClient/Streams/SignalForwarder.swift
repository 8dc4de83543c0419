import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Forwards SIGINT and SIGTERM that `pier` receives while attached to the container, as
/// `docker run` does, so Ctrl-C stops the container rather than only the client. The third
/// signal gives up and exits, leaving the container as it is.
///
/// A real `sigaction` handler writes the signal number to a pipe that a thread reads: unlike a
/// dispatch signal source it cannot lose a signal to a thread that has not blocked it.
public final class SignalForwarder: @unchecked Sendable {
    private static let forwarded: [(Int32, String)] = [(SIGINT, "INT"), (SIGTERM, "TERM")]
    private let readFD: Int32
    private let writeFD: Int32
    private let finished = DispatchSemaphore(value: 0)

    /// Starts forwarding; `forward` receives the signal's name (`INT`, `TERM`). One forwarder at a time.
    public init(forward: @escaping @Sendable (String) -> Void) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        readFD = fds[0]
        writeFD = fds[1]
        guard readFD >= 0 else { finished.signal(); return }
        signalPipeWriteFD = writeFD
        for (number, _) in Self.forwarded { Self.install(number, handler: signalToPipe) }
        let readFD = readFD, finished = finished
        Thread.detachNewThread {
            var count = 0
            var byte: UInt8 = 0
            while true {
                let n = read(readFD, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                count += 1
                if count >= 3 {
                    StandardStreams.printError("\nGiving up; the container keeps running (pier stop or pier kill it).\n")
                    _exit(128 + Int32(byte))
                }
                if let name = Self.forwarded.first(where: { $0.0 == Int32(byte) })?.1 { forward(name) }
            }
            close(readFD)
            finished.signal()
        }
    }

    /// Stops forwarding and restores the default handling.
    public func cancel() {
        for (number, _) in Self.forwarded { Self.install(number, handler: nil) }
        signalPipeWriteFD = -1
        if writeFD >= 0 { close(writeFD) }
        finished.wait()
    }

    private static func install(_ signal: Int32, handler: (@convention(c) (Int32) -> Void)?) {
        var action = sigaction()
        if let handler {
            action.__sigaction_handler.sa_handler = handler
        } else {
            action.__sigaction_handler.sa_handler = SIG_DFL
        }
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(signal, &action, nil)
    }
}

/// Where the handler writes; only read inside the handler (async-signal-safe).
nonisolated(unsafe) private var signalPipeWriteFD: Int32 = -1

private func signalToPipe(_ signal: Int32) {
    var byte = UInt8(truncatingIfNeeded: signal)
    let saved = errno
    _ = write(signalPipeWriteFD, &byte, 1)
    errno = saved
}
