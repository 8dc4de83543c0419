import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import PierPKI
import PierRegistry

/// The request context of the manager's servers: the connection, so the mutual-TLS peer can
/// be read, and that peer once the authentication middleware has checked it.
public struct ManagerRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let channel: any Channel
    /// The node or admin client on the other end of a TLS connection; nil on the local socket.
    public var peer: PeerIdentity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
        peer = nil
    }
}

/// Who may call what on the TCP port. The join and registry-token endpoints are open (the
/// token or credential is the check), and so is the registry to clients without a certificate
/// (its own authorization hook asks them for a bearer token); workers reach their session,
/// certificate renewal and the registry; manager-role certificates (admin clients) reach everything.
struct PeerAuthorization: RouterMiddleware {
    typealias Context = ManagerRequestContext
    let tls: ServerTLS

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/v1/join" || path == "/v1/registry/token" { return try await next(request, context) }
        let registry = path == "/v2" || path.hasPrefix("/v2/")
        let peer: PeerIdentity?
        do { peer = try await tls.peerIdentity(of: context.channel) } catch {
            let message = "client certificate refused: \(error)"
            return registry ? Self.registryError(message) : JSONResponses.error(ManagerError.unauthorized(message))
        }
        guard let peer else {
            // Without a certificate the registry decides itself: bearer tokens, anonymous pulls.
            if registry { return try await next(request, context) }
            return JSONResponses.error(ManagerError.unauthorized(
                "this endpoint needs a client certificate of the cluster; join with `pier agent --join URL --token T`"))
        }
        if peer.role != .manager {
            let allowed = path == "/v1/session" || path == "/v1/certificate/renew" || path == "/v2" || path.hasPrefix("/v2/")
            guard allowed else {
                return JSONResponses.error(ManagerError.unauthorized("node \(peer.nodeID) is a worker; \(path) needs a manager-role certificate"))
            }
        }
        var context = context
        context.peer = peer
        return try await next(request, context)
    }

    static func registryError(_ message: String) -> Response {
        let body = (try? JSONEncoder().encode(RegistryErrorBody(.unauthorized, message: message))) ?? Data()
        return Response(status: .unauthorized, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
