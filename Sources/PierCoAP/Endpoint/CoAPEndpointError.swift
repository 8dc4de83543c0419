/// Why a client call on a `CoAPEndpoint` failed.
public enum CoAPEndpointError: Error, Sendable, CustomStringConvertible {
    /// The message layer gave up: timeout, reset, or too many requests.
    case request(CoAPRequestFailure, path: String)
    /// A block-wise transfer broke off: the peer answered a block with something unexpected.
    case blockwise(String, path: String)
    /// The message could not be encoded.
    case encoding(CoAPEncodingError)
    /// The endpoint's channel is closed.
    case closed

    public var description: String {
        switch self {
        case .request(let f, let p): "\(p): \(f)"
        case .blockwise(let why, let p): "\(p): block-wise transfer failed: \(why)"
        case .encoding(let e): "\(e)"
        case .closed: "CoAP endpoint is closed; attach a new one to a bound channel"
        }
    }
}
