import NIOCore

/// A request as a resource handler sees it: the message with its whole body (Block1 already
/// reassembled, OSCORE already removed), the peer it came from and who it was authenticated as.
public struct CoAPRequest: Sendable {
    public var message: CoAPMessage
    public var peer: SocketAddress
    /// The client the endpoint's security layer authenticated (an OSCORE context's name); nil
    /// for a request that came unprotected.
    public var client: String?

    public init(message: CoAPMessage, peer: SocketAddress, client: String? = nil) {
        self.message = message
        self.peer = peer
        self.client = client
    }

    public var method: CoAPCode { message.code }
    /// The path, `/sensors/temp`.
    public var path: String { message.path }
    /// The Uri-Query arguments.
    public var query: [String] { message.uriQuery }
    /// The whole request body.
    public var payload: [UInt8] { message.payload }
}

/// Produces the response to a request. Runs outside the event loop; may take its time (a
/// confirmable request is acknowledged early and answered separately).
public typealias CoAPResourceHandler = @Sendable (CoAPRequest) async -> CoAPResponse

/// A resource served at one path, with its `/.well-known/core` description.
public struct CoAPResource: Sendable {
    /// The path, `/sensors/temp`.
    public var path: String
    /// How the resource is listed in `/.well-known/core`; its target is the path.
    public var link: CoAPLink
    /// Whether GET with Observe 0 registers an observer.
    public var observable: Bool
    /// Whether the handler also serves every path below `path` (`/services/web`, `/services/web/stop`)
    /// that no other resource claims; the handler reads `CoAPRequest.path` to tell them apart.
    public var servesSubpaths: Bool
    public var handler: CoAPResourceHandler

    /// A resource at `path`; `observable` also adds `obs` to its link.
    public init(
        path: String, resourceTypes: [String] = [], interfaces: [String] = [], contentFormats: [UInt32] = [],
        title: String? = nil, observable: Bool = false, servesSubpaths: Bool = false, handler: @escaping CoAPResourceHandler
    ) {
        self.path = path
        self.link = CoAPLink(
            path: path, resourceTypes: resourceTypes, interfaces: interfaces, contentFormats: contentFormats,
            observable: observable, title: title)
        self.observable = observable
        self.servesSubpaths = servesSubpaths
        self.handler = handler
    }
}
