import Foundation
import PierAPI

/// Turns the bytes of an attached stream (`StreamFrame` framing) into output and the exit status,
/// however the bytes are split into chunks. A pure state machine: feed chunks, act on the events.
public struct AttachedStreamReader: Sendable {
    /// What a chunk of the stream asks the client to do.
    public enum Event: Sendable, Equatable {
        /// Bytes the container wrote to its stdout.
        case stdout([UInt8])
        /// Bytes the container wrote to its stderr.
        case stderr([UInt8])
        /// The container (or exec'd process) exited; nothing useful follows.
        case exit(ContainerExit)
        /// The agent failed while streaming; the message says why.
        case error(String)
    }

    private var decoder = StreamFrameDecoder()
    /// Bytes fed but not yet returned as a frame: non-zero at the end means a truncated frame.
    private var pendingBytes = 0
    /// Set once the exit frame arrived.
    public private(set) var exit: ContainerExit?

    public init() {}

    /// Feeds the next chunk and returns the events of every frame it completed.
    public mutating func receive(_ bytes: some Collection<UInt8>) throws(ClientError) -> [Event] {
        decoder.feed(bytes)
        pendingBytes += bytes.count
        var events: [Event] = []
        while true {
            let frame: StreamFrame?
            do {
                frame = try decoder.next()
            } catch {
                throw .badResponse(request: "the attached stream", reason: "\(error)")
            }
            guard let frame else { break }
            pendingBytes -= StreamFrame.headerSize + frame.payload.count
            switch frame.kind {
            case .stdout: events.append(.stdout(frame.payload))
            case .stderr: events.append(.stderr(frame.payload))
            case .error: events.append(.error(String(decoding: frame.payload, as: UTF8.self)))
            case .exit:
                do {
                    let status = try JSONDecoder().decode(ContainerExit.self, from: Data(frame.payload))
                    exit = status
                    events.append(.exit(status))
                } catch {
                    throw .badResponse(request: "the attached stream", reason: "the exit frame is not a ContainerExit: \(error)")
                }
            }
        }
        return events
    }

    /// Checks the stream ended on a frame boundary.
    public func finish() throws(ClientError) {
        if pendingBytes != 0 {
            throw .badResponse(request: "the attached stream", reason: "it ended inside a frame (\(pendingBytes) bytes left over)")
        }
    }
}
