import Foundation
import Logging
import PierAccess
@testable import PierAgent
import PierCluster
import PierPKI
import Synchronization
import Testing
@testable import PierManager

/// The agent's side of the cluster against the manager's real TCP server in this process: a
/// join with a token over the pinned-CA handshake, a renewal, and a WebSocket session.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct AgentSessionTests {
    /// The manager's TCP port on 127.0.0.1, as `pier manager --listen tcp://…` serves it.
    static func withServer(_ body: (ManagerService.Parts, String) async throws -> Void) async throws {
        try await withServer { parts, address, _ in try await body(parts, address) }
    }

    /// The same, with the reasons the server's TLS trust refused peers for.
    static func withServer(_ body: (ManagerService.Parts, String, @Sendable () -> [String]) async throws -> Void) async throws {
        try await RouteAccessTests.withParts { parts in
            let membership = parts.membership
            let refusals = Mutex<[String]>([])
            let trust = ClusterTrust(
                anchors: membership.anchors, membership: { await membership.refusal(for: $0) },
                onRefusal: { error in refusals.withLock { $0.append("\(error)") } })
            let tls = try ServerTLS(identity: membership.serving, trust: trust)
            let port = Mutex(0)
            let app = try ManagerService.remoteApplication(parts, tls: tls, host: "127.0.0.1", port: 0) { channel in
                port.withLock { $0 = channel.localAddress?.port ?? 0 }
            }
            let server = Task { try await app.runService() }
            defer { server.cancel() }
            let deadline = Date().addingTimeInterval(30)
            while port.withLock({ $0 }) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let bound = try #require(port.withLock { $0 } == 0 ? nil : port.withLock { $0 }, "the manager's TCP server did not start")
            try await body(parts, "tcp://127.0.0.1:\(bound)", { refusals.withLock { $0 } })
        }
    }

    static func withAgentRoot(_ body: (ClusterMembership) async throws -> Void) async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pier-agent-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try await body(ClusterMembership(dataRoot: root))
    }

    @Test func joinPinsTheCARefusesBadTokensAndRenews() async throws {
        try await Self.withServer { parts, address in
            try await Self.withAgentRoot { membership in
                let token = try await parts.membership.rotateToken(role: "worker").token
                // A token for another CA: the manager's certificate does not match the pin.
                let foreign = try JoinToken.generate(caFingerprint: try ClusterCA.create().fingerprint)
                do {
                    _ = try await membership.join(address: address, token: foreign.text, hostname: "gw-1")
                    Issue.record("joined with another cluster's token")
                } catch let error as ClusterJoinError {
                    #expect(error.description.contains("did not present the CA of the token"), "\(error)")
                }
                // The right CA but a wrong secret: the manager refuses and says why.
                var wrong = Array(token)
                wrong[wrong.count - 1] = wrong.last == "a" ? "b" : "a"
                do {
                    _ = try await membership.join(address: address, token: String(wrong), hostname: "gw-1")
                    Issue.record("joined with a wrong secret")
                } catch let error as ClusterJoinError {
                    #expect(error.description.contains("join token is not valid"), "\(error)")
                }
                #expect(!membership.isJoined)
                #expect(await parts.manager.listNodes().isEmpty)

                let identity = try await membership.join(address: address, token: token, hostname: "gw-1")
                #expect(membership.isJoined && identity.role == .worker)
                #expect(try membership.managerAddress() == address)
                #expect(try membership.identity().nodeID == identity.nodeID)
                #expect(try await parts.manager.lookupNode("gw-1").id == identity.nodeID)
                let key = membership.directory.appendingPathComponent("node-key.pem").path
                #expect(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int == 0o600)

                let renewed = try await membership.renew(identity)
                #expect(renewed.nodeID == identity.nodeID && renewed.role == .worker)
                #expect(renewed.certificate.serialNumber != identity.certificate.serialNumber)
                #expect(try membership.identity().certificate == renewed.certificate)
            }
        }
    }

    @Test func aSessionSaysHelloGetsWelcomeAssignmentsAndTrust() async throws {
        try await Self.withServer { parts, address in
            try await Self.withAgentRoot { membership in
                let token = try await parts.membership.rotateToken(role: "worker").token
                let identity = try await membership.join(address: address, token: token, hostname: "gw-1")
                let transport = WebSocketSessionTransport(membership: membership, trust: try NodeTrust(membership: membership), logger: Logger(label: "test"))
                let received = Mutex<[String]>([])
                try await transport.withSession { session in
                    let hello = AgentHello(
                        description: NodeDescription(hostname: "gw-1", platform: Platform(os: "linux", architecture: "amd64"), resources: Resources(cpus: 2, memoryBytes: 1 << 30)),
                        reports: [])
                    try await session.send(.hello(hello))
                    for try await message in session.inbound {
                        switch message {
                        case .welcome(let w):
                            received.withLock { $0.append("welcome \(w.nodeID)") }
                        case .assignments(let a):
                            received.withLock { $0.append("assignments \(a.tasks.count)") }
                        case .trust(let t):
                            received.withLock { $0.append("trust \(t.roots.count)") }
                        default:
                            break
                        }
                        let seen = received.withLock { $0 }
                        if seen.contains(where: { $0.hasPrefix("welcome") }) && seen.contains(where: { $0.hasPrefix("trust") }) { return }
                    }
                }
                let seen = received.withLock { $0 }
                #expect(seen.first == "welcome \(identity.nodeID)", "\(seen)")
                #expect(seen.contains("trust 1"), "\(seen)")
                #expect(try await parts.manager.lookupNode("gw-1").state == .ready)
            }
        }
    }

    @Test func aRemovedNodeGetsNoSession() async throws {
        try await Self.withServer { parts, address, refusals in
            try await Self.withAgentRoot { membership in
                let token = try await parts.membership.rotateToken(role: "worker").token
                let identity = try await membership.join(address: address, token: token, hostname: "gw-1")
                try await parts.membership.removeNode(identity.nodeID, force: true)
                let transport = WebSocketSessionTransport(membership: membership, trust: try NodeTrust(membership: membership), logger: Logger(label: "test"))
                let opened = Mutex(false)
                do {
                    try await transport.withSession { _ in opened.withLock { $0 = true } }
                    Issue.record("a removed node opened a session")
                } catch {
                    // Refused at the handshake by the membership check, not by something else.
                    #expect(refusals().contains { $0.contains("was removed from the cluster") }, "\(error); refusals: \(refusals())")
                }
                #expect(!opened.withLock { $0 })
            }
        }
    }
}
