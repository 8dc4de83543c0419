import Hummingbird
import Logging
import PierAccess
import PierOCI

/// What the manager needs from the node it runs on: the image store its registry serves and
/// pins service images in, the node's API for `pier up`'s socket, and the node's lifetime. The
/// `pier` executable hands in its agent (`AgentNode`); the manager does not depend on the agent.
public protocol ManagerNode: Sendable {
    var logger: Logger { get }
    var contentStore: LocalContentStore { get }
    var imageStore: ImageStore { get }
    /// Why the node's own state cannot be used (it then runs no tasks), or nil.
    var degraded: String? { get }
    /// The image reference pinned to the digest this node holds for it.
    func pinnedReference(_ reference: String) async throws -> String
    /// Refuses an image that none of `trusted` signed.
    func requireSignature(_ reference: String, trusted: [TrustedKey]) async throws
    /// The node's whole API (`pier up`'s socket).
    func addRoutes<Context: RequestContext & CallerCarrying>(to router: Router<Context>)
    /// The node's image routes only (`pier manager`'s socket).
    func addImageRoutes<Context: RequestContext & CallerCarrying>(to router: Router<Context>)
    /// Runs `body` while the node serves (its supervision, its own background work).
    func serve(_ body: () async throws -> Void) async throws
    /// Servers for `unix://PATH` addresses, each run by calling it; sockets 0660, `group`'s when given.
    func unixServers<Context: RequestContext>(
        _ addresses: [String], router: Router<Context>, serverName: String, group: UInt32?, logger: Logger
    ) throws -> [@Sendable () async throws -> Void] where Context.Source == ApplicationRequestContextSource
}
