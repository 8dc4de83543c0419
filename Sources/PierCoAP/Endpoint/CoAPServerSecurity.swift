import NIOCore

/// Object security between a server endpoint's message layer and its resources (OSCORE,
/// RFC 8613, in PierOSCORE). It sits after deduplication and before block-wise reassembly, so
/// retransmissions get the reply already sealed, Block1/Block2 and Observe work on the inner
/// (decrypted) request, and every response and notification is sealed on its way out.
///
/// Called on the endpoint's event loop, one call at a time per endpoint.
public protocol CoAPServerSecurity: Sendable {
    /// Options the message layer must accept on requests (the OSCORE option is critical).
    var options: Set<CoAPOptionNumber> { get }
    /// A request from the message layer: unprotected, opened, or answered at once.
    func open(_ request: CoAPMessage, from peer: SocketAddress) -> CoAPSecurityOutcome
    /// Seals a response to a request `open` opened; `notification` asks for the server's own
    /// sequence number (every notification after the first, RFC 8613 §4.1.3.5.2). Nil if it
    /// cannot be sealed (the caller then sends nothing).
    func seal(_ response: CoAPResponse, for binding: CoAPSecurityBinding, notification: Bool) -> CoAPResponse?
}

/// What `CoAPServerSecurity.open` made of a request.
public enum CoAPSecurityOutcome: Sendable {
    /// Not protected: serve it as it is, with no client identity (the resource decides).
    case plain
    /// Protected and verified: serve `request`, seal the answers with `binding`.
    case opened(CoAPMessage, CoAPSecurityBinding)
    /// Refused, or answered without reaching a resource (a replay, an Echo challenge): send this
    /// response as it is.
    case respond(CoAPResponse)
}

/// Ties the answers to a request to the security context that opened it.
public struct CoAPSecurityBinding: Sendable {
    /// The authenticated client's name, handed to resources as `CoAPRequest.client`.
    public var client: String
    /// What the security layer needs to seal the responses; opaque to the endpoint.
    public var state: any Sendable

    public init(client: String, state: any Sendable) {
        self.client = client
        self.state = state
    }
}
