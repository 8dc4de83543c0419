extension CoAPMessage {
    /// All values of an option, in order.
    public func options(_ number: CoAPOptionNumber) -> [CoAPOption] { options.filter { $0.number == number } }

    /// The first instance of an option.
    public func option(_ number: CoAPOptionNumber) -> CoAPOption? { options.first { $0.number == number } }

    /// Replaces every instance of `number` with `values` (none removes it).
    public mutating func setOptions(_ number: CoAPOptionNumber, _ values: [CoAPOption]) {
        options.removeAll { $0.number == number }
        options.append(contentsOf: values)
    }

    /// Sets a single `uint` option, or removes it when `value` is nil.
    public mutating func setUInt(_ number: CoAPOptionNumber, _ value: UInt32?) {
        setOptions(number, value.map { [CoAPOption(number, uint: $0)] } ?? [])
    }

    /// The first instance of a `uint` option.
    public func uint(_ number: CoAPOptionNumber) -> UInt32? { option(number)?.uintValue }

    /// The Uri-Path segments, e.g. `["sensors", "temp"]` for `/sensors/temp`.
    public var uriPath: [String] {
        get { options(.uriPath).map { $0.stringValue ?? "" } }
        set { setOptions(.uriPath, newValue.map { CoAPOption(.uriPath, string: $0) }) }
    }

    /// The path as one string with a leading slash: `/sensors/temp`.
    public var path: String { "/" + uriPath.joined(separator: "/") }

    /// The Uri-Query arguments, e.g. `["rt=temperature"]`.
    public var uriQuery: [String] {
        get { options(.uriQuery).map { $0.stringValue ?? "" } }
        set { setOptions(.uriQuery, newValue.map { CoAPOption(.uriQuery, string: $0) }) }
    }

    /// The Content-Format (RFC 7252 §12.3), e.g. 0 text/plain, 40 link-format, 50 JSON, 60 CBOR.
    public var contentFormat: UInt32? {
        get { uint(.contentFormat) }
        set { setUInt(.contentFormat, newValue) }
    }

    /// The Observe option (RFC 7641): 0 register / 1 deregister in a request, a sequence number in a notification.
    public var observe: UInt32? {
        get { uint(.observe) }
        set { setUInt(.observe, newValue) }
    }

    /// The options a server did not recognise and must not ignore: critical numbers outside `known`.
    public func unrecognisedCriticalOptions(known: Set<CoAPOptionNumber> = []) -> [CoAPOptionNumber] {
        options.map(\.number).filter { $0.isCritical && !$0.isKnown && !known.contains($0) }
    }
}

/// Content-Format numbers from the CoAP registry (RFC 7252 §12.3, RFC 7049 for CBOR).
public enum CoAPContentFormat {
    public static let textPlain: UInt32 = 0
    public static let linkFormat: UInt32 = 40
    public static let xml: UInt32 = 41
    public static let octetStream: UInt32 = 42
    public static let json: UInt32 = 50
    public static let cbor: UInt32 = 60
}
