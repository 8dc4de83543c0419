import NIOCore

extension CoAPMessage {
    /// Decodes one datagram. The whole buffer is the message: UDP carries one per datagram.
    public init(decoding bytes: [UInt8]) throws(CoAPDecodingError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(CoAPDecodingError) in try Self.decode(raw) } }
        self = try result.get()
    }

    /// Decodes the readable bytes of `buffer` without consuming them.
    public init(decoding buffer: ByteBuffer) throws(CoAPDecodingError) {
        let result = buffer.withUnsafeReadableBytes { raw in Result { () throws(CoAPDecodingError) in try Self.decode(raw) } }
        self = try result.get()
    }

    /// The type and message ID of a datagram whose header parses, even if the rest does not;
    /// what a receiver needs to reject a malformed confirmable message with a Reset (§4.2).
    public static func header(of buffer: ByteBuffer) -> (type: CoAPMessageType, code: CoAPCode, messageID: UInt16)? {
        guard buffer.readableBytes >= 4,
            let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            first >> 6 == 1,
            let type = CoAPMessageType(rawValue: (first >> 4) & 0x03),
            let code = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self),
            let mid = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
        else { return nil }
        return (type, CoAPCode(rawValue: code), mid)
    }

    static func decode(_ raw: UnsafeRawBufferPointer) throws(CoAPDecodingError) -> CoAPMessage {
        let count = raw.count
        guard count >= 4 else { throw .truncatedHeader(length: count) }
        let first = raw[0]
        let version = first >> 6
        guard version == 1 else { throw .unsupportedVersion(version) }
        let type = CoAPMessageType(rawValue: (first >> 4) & 0x03) ?? .confirmable  // two bits: always valid
        let tkl = Int(first & 0x0F)
        guard tkl <= CoAPToken.maxLength else { throw .invalidTokenLength(UInt8(tkl)) }
        let code = CoAPCode(rawValue: raw[1])
        let messageID = UInt16(raw[2]) << 8 | UInt16(raw[3])
        if code.isEmpty {
            guard count == 4, tkl == 0 else { throw .nonEmptyEmptyMessage }
            return .empty(type, messageID: messageID)
        }
        guard count >= 4 + tkl else { throw .truncatedToken(expected: tkl, available: count - 4) }
        let token = CoAPToken(unchecked: Array(raw[4..<(4 + tkl)]))

        var i = 4 + tkl
        var number = 0
        var options: [CoAPOption] = []
        var payload: [UInt8] = []
        while i < count {
            let byte = raw[i]
            if byte == 0xFF {
                guard i + 1 < count else { throw .payloadMarkerWithoutPayload }
                payload = Array(raw[(i + 1)...])
                break
            }
            let start = i
            i += 1
            let deltaNibble = Int(byte >> 4)
            let lengthNibble = Int(byte & 0x0F)
            guard deltaNibble != 15 else { throw .reservedOptionDelta(offset: start) }
            guard lengthNibble != 15 else { throw .reservedOptionLength(offset: start) }
            let delta = try extended(deltaNibble, raw, &i, number: number)
            number += delta
            guard number <= Int(UInt16.max) else { throw .optionNumberOverflow(number) }
            let length = try extended(lengthNibble, raw, &i, number: number)
            guard count - i >= length else { throw .truncatedOption(number: number, needed: length, available: count - i) }
            options.append(CoAPOption(CoAPOptionNumber(UInt16(number)), value: Array(raw[i..<(i + length)])))
            i += length
        }
        return CoAPMessage(type: type, code: code, messageID: messageID, token: token, options: options, payload: payload)
    }

    private static func extended(_ nibble: Int, _ raw: UnsafeRawBufferPointer, _ i: inout Int, number: Int) throws(CoAPDecodingError) -> Int
    {
        switch nibble {
        case 13:
            guard i + 1 <= raw.count else { throw .truncatedOption(number: number, needed: 1, available: raw.count - i) }
            defer { i += 1 }
            return Int(raw[i]) + 13
        case 14:
            guard i + 2 <= raw.count else { throw .truncatedOption(number: number, needed: 2, available: raw.count - i) }
            defer { i += 2 }
            return (Int(raw[i]) << 8 | Int(raw[i + 1])) + 269
        default:
            return nibble
        }
    }

    /// The largest option value length the extended length field can express.
    public static let maxOptionValueLength = 65535 + 269

    /// Appends the wire form of this message to `buffer`.
    public func encode(into buffer: inout ByteBuffer) throws(CoAPEncodingError) {
        guard token.bytes.count <= CoAPToken.maxLength else { throw .tokenTooLong(token.bytes.count) }
        if code.isEmpty {
            guard token.bytes.isEmpty, options.isEmpty, payload.isEmpty else { throw .nonEmptyEmptyMessage }
        }
        for option in options where option.value.count > Self.maxOptionValueLength {
            throw .optionValueTooLong(number: option.number.rawValue, length: option.value.count)
        }
        buffer.writeInteger(UInt8(1 << 6) | type.rawValue << 4 | UInt8(token.bytes.count))
        buffer.writeInteger(code.rawValue)
        buffer.writeInteger(messageID)
        buffer.writeBytes(token.bytes)
        var previous = 0
        let sorted = options.enumerated().sorted { ($0.element.number, $0.offset) < ($1.element.number, $1.offset) }
        for (_, option) in sorted {
            let number = Int(option.number.rawValue)
            let (deltaNibble, deltaExt) = Self.nibble(number - previous)
            let (lengthNibble, lengthExt) = Self.nibble(option.value.count)
            buffer.writeInteger(UInt8(deltaNibble << 4 | lengthNibble))
            buffer.writeBytes(deltaExt)
            buffer.writeBytes(lengthExt)
            buffer.writeBytes(option.value)
            previous = number
        }
        if !payload.isEmpty {
            buffer.writeInteger(UInt8(0xFF))
            buffer.writeBytes(payload)
        }
    }

    /// The wire form of this message as a new buffer.
    public func encodedBuffer(allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(CoAPEncodingError) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 4 + token.bytes.count + payload.count + 1 + options.reduce(0) { $0 + 3 + $1.value.count })
        try encode(into: &buffer)
        return buffer
    }

    /// The wire form of this message as bytes.
    public func encoded() throws(CoAPEncodingError) -> [UInt8] {
        let buffer = try encodedBuffer()
        return Array(buffer.readableBytesView)
    }

    private static func nibble(_ value: Int) -> (UInt8, [UInt8]) {
        if value < 13 { return (UInt8(value), []) }
        if value < 269 { return (13, [UInt8(value - 13)]) }
        let v = value - 269
        return (14, [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)])
    }
}
