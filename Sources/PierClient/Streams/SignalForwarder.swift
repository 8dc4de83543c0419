import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Forwards SIGINT and SIGTERM that `pier` receives while attached to the container, as
/// `docker run` does, so Ctrl-C stops the container rather than only the client. The third
/// signal gives up and exits, leaving the container as it is.
public final class SignalForwarder: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private var count = 0
    private let queue = DispatchQueue(label: "pier.signals")

    /// Starts forwarding; `forward` receives the signal's name (`INT`, `TERM`).
    public init(forward: @escaping @Sendable (String) -> Void) {
        for (number, name) in [(SIGINT, "INT"), (SIGTERM, "TERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [unowned self] in
                count += 1
                if count >= 3 {
                    StandardStreams.printError("\nGiving up; the container keeps running (pier stop or pier kill it).\n")
                    _exit(128 + number)
                }
                forward(name)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Stops forwarding and restores the default handling.
    public func cancel() {
        queue.sync {
            for source in sources { source.cancel() }
            sources = []
        }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
