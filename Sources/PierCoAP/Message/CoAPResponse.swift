/// A response as a handler produces it: code, options and body, before the message layer gives it
/// a type, message ID and token.
public struct CoAPResponse: Codable, Sendable, Hashable, CustomStringConvertible {
    public var code: CoAPCode
    public var options: [CoAPOption]
    public var payload: [UInt8]

    public init(code: CoAPCode, options: [CoAPOption] = [], payload: [UInt8] = []) {
        self.code = code
        self.options = options
        self.payload = payload
    }

    /// A response with a UTF-8 diagnostic payload, as RFC 7252 §5.5.2 suggests for errors.
    public init(code: CoAPCode, diagnostic: String, options: [CoAPOption] = []) {
        self.init(code: code, options: options, payload: Array(diagnostic.utf8))
    }

    /// The first instance of a `uint` option.
    public func uint(_ number: CoAPOptionNumber) -> UInt32? { options.first { $0.number == number }?.uintValue }

    public var description: String {
        "\(code)" + (options.isEmpty ? "" : " " + options.map(\.description).joined(separator: " "))
            + (payload.isEmpty ? "" : " payload=\(payload.count)B")
    }
}
