import Hummingbird
import Logging
import PierAgent
import PierManager

/// The tests run the manager on a real agent node, as `pier manager` and `pier up` do (the
/// executable declares the same conformance; the manager itself does not know the agent).
extension AgentNode: ManagerNode {
    public func unixServers(
        _ addresses: [String], router: Router<ManagerRequestContext>, serverName: String, group: UInt32?, logger: Logger
    ) throws -> [@Sendable () async throws -> Void] {
        try Agent.unixApplications(addresses, router: router, serverName: serverName, group: group, logger: logger).map { app in
            { try await app.runService() }
        }
    }
}
