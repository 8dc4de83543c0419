import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import PierPKI

/// A request context that keeps its connection, so the mutual-TLS peer can be read.
struct ChannelRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// CPIS, the direct mode over the network: a client with a certificate of the agent's cluster
/// (`pier cert create` on the manager) activates, queries, stops and removes containers on
/// this device through `pier --host tcp://DEVICE:PORT --tls-dir DIR`. Without one it is refused.
struct RequireClusterPeer: RouterMiddleware {
    typealias Context = ChannelRequestContext
    let tls: ServerTLS

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let peer: PeerIdentity?
        do { peer = try await tls.peerIdentity(of: context.channel) } catch {
            return errorResponse(AgentError.forbidden("client certificate refused: \(error)"))
        }
        guard peer != nil else {
            return errorResponse(AgentError.forbidden(
                "this port needs a client certificate of the cluster; create one with `pier cert create` on the manager"))
        }
        return try await next(request, context)
    }
}

extension Agent {
    /// The TLS applications for `tcp://HOST:PORT` listen addresses: the agent's API behind
    /// mutual TLS with its node certificate. Only a node that joined a cluster has a CA to check clients with.
    static func directApplications(_ addresses: [String], node: AgentNode, membership: ClusterMembership) throws
        -> [Application<RouterResponder<ChannelRequestContext>>] {
        guard !addresses.isEmpty else { return [] }
        guard membership.isJoined else {
            throw AgentError.invalid("--listen \(addresses[0]): a tcp:// address needs mutual TLS; join a cluster first (pier agent --join … --token …), its CA signs the clients")
        }
        let identity = try membership.identity()
        let tls = try ServerTLS(identity: identity, trust: ClusterTrust(caCertificate: identity.caCertificate))
        let router = Router(context: ChannelRequestContext.self)
        router.add(middleware: RequireClusterPeer(tls: tls))
        node.addRoutes(to: router)
        return try addresses.map { text in
            let address = try ManagerAddress(parsing: text)
            return Application(
                router: router,
                server: try .tls(.http1(), configuration: TLSChannelConfiguration(tlsConfiguration: tls.configuration, customVerificationCallback: tls.verificationCallback)),
                configuration: .init(address: .hostname(address.host, port: address.port), serverName: "pier-agent"),
                logger: node.logger)
        }
    }
}
