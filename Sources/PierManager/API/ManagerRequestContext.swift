import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import PierAccess
import PierPKI
import PierRegistry

/// The request context of the manager's servers: the connection, so the mutual-TLS peer can
/// be read, and the caller once the authorization middleware has established it.
public struct ManagerRequestContext: RequestContext, WebSocketRequestContext, CallerCarrying {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let channel: any Channel
    /// The node or client on the other end of a TLS connection; nil on the local socket and for
    /// TLS clients without a certificate.
    public var peer: PeerIdentity?
    /// Who called: the peer's role, `local` on the unix socket, or anonymous.
    public var caller: Caller

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
        peer = nil
        caller = .anonymous
    }
}

/// The one place the manager's servers decide who may call what: every route goes through
/// ``AccessPolicy`` (default deny) with the caller this listener establishes — the verified
/// client certificate on the TCP port, `admin` on the local socket.
struct ManagerAuthorization: RouterMiddleware {
    typealias Context = ManagerRequestContext
    /// The TCP port's TLS; nil for the local socket.
    let tls: ServerTLS?
    /// The APIs this listener serves (the manager's, and on `pier up`'s socket the agent's).
    let apis: [[AccessPolicy.Route: Permission]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A path no route matches reaches here without an endpoint and answers 404.
        guard let endpoint = context.endpointPath else { return try await next(request, context) }
        let route = AccessPolicy.Route(request.method.rawValue, endpoint)
        let registry = endpoint == "/v2" || endpoint.hasPrefix("/v2/")
        var context = context
        if let tls {
            do {
                context.peer = try await tls.peerIdentity(of: context.channel)
            } catch {
                let message = "client certificate refused: \(error)"
                return registry ? Self.registryError(message) : JSONResponses.error(ManagerError.unauthorized(message))
            }
            context.caller = context.peer?.caller ?? .anonymous
        } else {
            context.caller = .local
        }
        switch AccessPolicy.authorize(context.caller, route, in: apis) {
        case .success:
            return try await next(request, context)
        case .failure(let denied):
            return registry ? Self.registryError(denied.reason) : JSONResponses.error(ManagerError.unauthorized(denied.reason))
        }
    }

    static func registryError(_ message: String) -> Response {
        let body = (try? JSONEncoder().encode(RegistryErrorBody(.unauthorized, message: message))) ?? Data()
        return Response(status: .unauthorized, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
