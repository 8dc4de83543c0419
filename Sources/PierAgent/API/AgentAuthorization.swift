import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import PierAccess
import PierPKI
import PierRegistry
import Synchronization
import X509

/// The request context of the agent's own servers (its unix socket and its direct TLS port):
/// the connection, so the mutual-TLS peer can be read, and the caller.
public struct AgentRequestContext: RequestContext, CallerCarrying {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    public var caller: Caller

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        caller = .anonymous
    }
}

/// The one place the agent's servers decide who may call what: every route goes through
/// ``AccessPolicy/agentAPI`` (default deny) with the caller this listener establishes — `admin`
/// on the unix socket, the client certificate on the direct port (CPIS), where only client
/// roles get past the handshake: a node's certificate, a worker's included, never reaches it.
struct AgentAuthorization: RouterMiddleware {
    typealias Context = AgentRequestContext
    /// The direct port's TLS; nil for the unix socket.
    let tls: ServerTLS?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A path no route matches reaches here without an endpoint and answers 404.
        guard let endpoint = context.endpointPath else { return try await next(request, context) }
        var context = context
        if let tls {
            let peer: PeerIdentity?
            do { peer = try await tls.peerIdentity(of: context.channel) } catch {
                return errorResponse(AgentError.forbidden("client certificate refused: \(error)"))
            }
            guard let peer else {
                return errorResponse(AgentError.forbidden(
                    "this port needs a client certificate of the cluster; create one with `pier cert create NAME --role operator` on the manager"))
            }
            context.caller = peer.caller
        } else {
            context.caller = .local
        }
        switch AccessPolicy.authorize(context.caller, AccessPolicy.Route(request.method.rawValue, endpoint), in: [AccessPolicy.agentAPI]) {
        case .success: return try await next(request, context)
        case .failure(let denied): return errorResponse(AgentError.forbidden(denied.reason))
        }
    }
}

/// What a joined node trusts and serves: its identity (renewed in place), the cluster's roots
/// and the revocation list the manager pushes (kept in `cluster/revoked.json`, so they hold while
/// the manager is unreachable and across restarts).
public final class NodeTrust: Sendable {
    public let anchors: TrustAnchors
    public let serving: ServingIdentity
    let membership: ClusterMembership
    /// Why every client is refused: the stored revocation list could not be read, and until the
    /// manager sends it again nobody knows who is revoked.
    private let unreadable: Mutex<String?>

    init(membership: ClusterMembership) throws {
        let identity = try membership.identity()
        self.membership = membership
        var list = RevocationList()
        var problem: String?
        do { list = try membership.revocations() } catch { problem = "\(error)" }
        unreadable = Mutex(problem)
        anchors = TrustAnchors(roots: identity.roots, revocations: list)
        serving = try ServingIdentity(identity)
    }

    /// Non-nil while every client must be refused.
    var refusal: String? { unreadable.withLock { $0 } }

    /// Applies what the manager sent: saves and trusts the roots, keeps the revocation list. The
    /// roots are the manager's latest word, also for a renewal answered before it (see `renewed`).
    /// A certificate that does not chain to them yet (a rotation's renewal still under way) is
    /// served until its successor arrives.
    func apply(roots: [Certificate], revocations: RevocationList) throws {
        anchors.setRoots(roots)
        if let identity = try? serving.identity.trusting(roots) {
            try identity.save(to: membership.directory.path)
            try serving.replace(with: identity)
        } else {
            try ClusterCA.write(roots, to: membership.directory.appendingPathComponent("ca.pem").path)
        }
        if revocations.version >= anchors.revocations.version || refusal != nil {
            try membership.saveRevocations(revocations)
            anchors.setRevocations(revocations, force: true)
            unreadable.withLock { $0 = nil }
        }
    }

    /// Serves a renewed identity from the next handshake on, with the roots the manager sent
    /// last (a renewal answered during a rotation names both CAs; the rotation may have ended
    /// since), unless the certificate does not chain to them.
    func renewed(_ identity: NodeIdentity) throws {
        let current = (try? identity.trusting(anchors.roots)) ?? identity
        if current.roots != identity.roots || current.intermediates != identity.intermediates {
            try current.save(to: membership.directory.path)
        }
        try serving.replace(with: current)
        anchors.setRoots(current.roots)
    }
}

extension Agent {
    /// The TLS applications for `tcp://HOST:PORT` listen addresses: the agent's API behind
    /// mutual TLS with its node certificate, for client certificates of the cluster only. Only a
    /// node that joined a cluster has a CA to check clients with.
    static func directApplications(
        _ addresses: [String], node: AgentNode, trust: NodeTrust?, onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> [Application<RouterResponder<AgentRequestContext>>] {
        guard !addresses.isEmpty else { return [] }
        guard let trust else {
            throw AgentError.invalid("--listen \(addresses[0]): a tcp:// address needs mutual TLS; join a cluster first (pier agent --join … --token-file …), its CA signs the clients")
        }
        let tls = try ServerTLS(
            identity: trust.serving,
            trust: ClusterTrust(
                anchors: trust.anchors, membership: { _ in trust.refusal },
                onRefusal: { node.logger.warning("direct port: TLS peer refused: \($0)") }),
            allowedClients: Role.clients)
        let router = directRouter(node: node, tls: tls)
        return try addresses.map { text in
            let address = try ManagerAddress(parsing: text)
            return Application(
                router: router,
                server: try .tls(.http1(configuration: HTTPServerLimits().http1), configuration: TLSChannelConfiguration(tlsConfiguration: tls.configuration, customVerificationCallback: tls.verificationCallback)),
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: "pier-agent"),
                onServerRunning: onServerRunning, logger: node.logger)
        }
    }

    /// The direct port's routes (CPIS): the agent's API behind ``AgentAuthorization``.
    static func directRouter(node: AgentNode, tls: ServerTLS) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: AgentAuthorization(tls: tls))
        node.addRoutes(to: router)
        return router
    }

    /// The unix socket's routes: the agent's API for its local admin.
    static func localRouter(node: AgentNode) -> Router<AgentRequestContext> {
        let router = Router(context: AgentRequestContext.self)
        router.add(middleware: AgentAuthorization(tls: nil))
        node.addRoutes(to: router)
        return router
    }
}
