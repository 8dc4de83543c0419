import Foundation

/// How a container ended, as its shim records it in the exit file:
/// `{"exitCode": 137, "signal": 9, "finishedAt": "2026-01-02T15:04:05.123456789Z", "error": null}`.
public struct ExitRecord: Codable, Sendable, Equatable {
    /// The exit status, 128 + N when killed by signal N, or 126/127/128 when runc could not
    /// start it (Docker's codes).
    public var exitCode: Int32
    public var signal: Int32?
    public var finishedAt: Date
    /// runc's error when the container could not be started.
    public var error: String?

    public init(exitCode: Int32, signal: Int32? = nil, finishedAt: Date, error: String? = nil) {
        self.exitCode = exitCode; self.signal = signal; self.finishedAt = finishedAt; self.error = error
    }

    enum CodingKeys: String, CodingKey { case exitCode, signal, finishedAt, error }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        exitCode = try c.decode(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        error = try c.decodeIfPresent(String.self, forKey: .error)
        let text = try c.decode(String.self, forKey: .finishedAt)
        guard let date = Self.parseTimestamp(text) else {
            throw DecodingError.dataCorruptedError(forKey: .finishedAt, in: c, debugDescription: "not an RFC 3339 time: \(text)")
        }
        finishedAt = date
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(Self.formatTimestamp(finishedAt), forKey: .finishedAt)
        try c.encode(error, forKey: .error)
    }

    /// Reads the exit file; nil when there is none (yet) or it is unreadable.
    public static func read(from url: URL) -> ExitRecord? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(ExitRecord.self, from: data)
    }

    /// `2026-01-02T15:04:05.123456789Z` (UTC, any number of fraction digits) to a Date.
    static func parseTimestamp(_ text: String) -> Date? {
        guard text.hasSuffix("Z"), text.utf8.count > 10, text.utf8[text.utf8.index(text.utf8.startIndex, offsetBy: 10)] == UInt8(ascii: "T") else {
            return nil
        }
        return UTCTimestamp.parse(text)
    }

    static func formatTimestamp(_ date: Date) -> String {
        UTCTimestamp.format(date)
    }
}
