import PierSpec

/// Framing of attached streams (run in the foreground, logs, exec), as Docker's multiplexed
/// stream with two extra kinds:
///
/// ```
///  0        1  2  3  4                 8
/// +--------+--+--+--+-----------------+----------------------+
/// | kind   | 0| 0| 0| length (UInt32 BE) | payload (length bytes) |
/// +--------+--+--+--+-----------------+----------------------+
/// ```
/// kind 1 stdout, 2 stderr, 3 exit (payload: `ContainerExit` JSON), 4 error (payload: UTF-8 message).
public struct StreamFrame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case stdout = 1, stderr = 2, exit = 3, error = 4 }
    public var kind: Kind
    public var payload: [UInt8]
    public init(kind: Kind, payload: [UInt8]) { self.kind = kind; self.payload = payload }

    public static let headerSize = 8
    /// Frames larger than this are refused by the decoder.
    public static let maxPayload = 16 << 20

    public func encoded() -> [UInt8] {
        let n = UInt32(payload.count)
        return [kind.rawValue, 0, 0, 0, UInt8(n >> 24), UInt8((n >> 16) & 0xff), UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] + payload
    }
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out.
public struct StreamFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    public init() {}

    public enum DecodeError: Error, CustomStringConvertible {
        case unknownKind(UInt8), tooLarge(Int)
        public var description: String {
            switch self {
            case .unknownKind(let k): "stream frame of unknown kind \(k)"
            case .tooLarge(let n): "stream frame of \(n) bytes exceeds the limit"
            }
        }
    }

    public mutating func feed(_ bytes: some Sequence<UInt8>) { buffer.append(contentsOf: bytes) }

    /// The next complete frame, or nil until more bytes arrive.
    public mutating func next() throws -> StreamFrame? {
        guard buffer.count >= StreamFrame.headerSize else { return nil }
        guard let kind = StreamFrame.Kind(rawValue: buffer[0]) else { throw DecodeError.unknownKind(buffer[0]) }
        let n = Int(buffer[4]) << 24 | Int(buffer[5]) << 16 | Int(buffer[6]) << 8 | Int(buffer[7])
        guard n <= StreamFrame.maxPayload else { throw DecodeError.tooLarge(n) }
        guard buffer.count >= StreamFrame.headerSize + n else { return nil }
        let payload = Array(buffer[StreamFrame.headerSize..<(StreamFrame.headerSize + n)])
        buffer.removeFirst(StreamFrame.headerSize + n)
        return StreamFrame(kind: kind, payload: payload)
    }
}
