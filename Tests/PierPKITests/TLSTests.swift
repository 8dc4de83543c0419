import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PierAccess
import Synchronization
import Testing
import X509
@testable import PierPKI

/// Collects the reasons a trust refused certificates, so a test can check it refused for the
/// right reason and not because something else broke.
final class Refusals: Sendable {
    private let list = Mutex<[PKIError]>([])
    var all: [PKIError] { list.withLock { $0 } }
    var record: @Sendable (PKIError) -> Void { { error in self.list.withLock { $0.append(error) } } }
    func contains(_ text: String) -> Bool { all.contains { "\($0)".contains(text) } }
}

/// Real TLS handshakes over loopback between the configurations PierPKI hands out.
@Suite(.serialized) struct MutualTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func withServer<T>(
        _ identity: NodeIdentity,
        trust: ClusterTrust,
        allowedClients: Set<Role>? = nil,
        _ body: (ServerTLS, EchoServer) async throws -> T
    ) async throws -> T {
        let tls = try ServerTLS(identity: identity, trust: trust, allowedClients: allowedClients)
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        do {
            let result = try await body(tls, server)
            await server.close()
            return result
        } catch {
            await server.close()
            throw error
        }
    }

    @Test func joinedNodeIsAcceptedAndIdentified() async throws {
        let cluster = try TestCluster()
        let worker = try cluster.node("worker-1")
        try await withServer(cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate)) { tls, server in
            let client = try ClientTLS(identity: worker)
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            #expect(reply == "ping")
            let child = try #require(await server.nextConnection())
            let peer = try #require(try await tls.peerIdentity(of: child))
            #expect(peer.nodeID == "worker-1")
            #expect(peer.role == .worker)
            #expect(peer.clusterID == "test-cluster")
            #expect(peer.caller == Caller(role: .worker, name: "worker-1"))
            // The handler's validated chain is set too: leaf, then the CA.
            let chain = try #require(try await child.nioSSL_peerValidatedCertificateChain().get())
            #expect(chain.count == 2)
            // And the client sees the manager.
            let server = try #require(try await client.peerIdentity(of: channel))
            #expect(server.nodeID == "manager-1")
            #expect(server.role == .manager)
            try await channel.close()
        }
    }

    @Test func clientWithoutCertificateConnectsButHasNoIdentity() async throws {
        let cluster = try TestCluster()
        try await withServer(cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate)) { tls, server in
            let client = try ClientTLS(anonymousTrusting: [cluster.ca.certificate])
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            #expect(reply == "ping")
            let child = try #require(await server.nextConnection())
            #expect(try await tls.peerIdentity(of: child) == nil)
            try await channel.close()
        }
    }

    @Test func forgedCertificateFromAnotherCAIsRefused() async throws {
        let cluster = try TestCluster()
        let impostorCA = try ClusterCA.create(clusterID: "test-cluster")
        let forged = try impostorCA.issueIdentity(nodeID: "worker-1", role: .manager)
        let refusals = Refusals()
        try await withServer(cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate, onRefusal: refusals.record)) { _, server in
            // The client trusts the real CA too, so only the server's check can refuse it.
            let client = try ClientTLS(identity: forged.trusting([impostorCA.certificate, cluster.ca.certificate]))
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            }
        }
        #expect(refusals.contains("does not chain to the cluster CA"), "\(refusals.all)")
    }

    @Test func revokedCertificatesAndRemovedNodesAreRefusedAtTheHandshake() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let revokedClient = try cluster.node("client-ops", role: .operator)
        let kept = try cluster.node("worker-kept")
        let refusals = Refusals()
        var list = RevocationList()
        list.add([.init(serialNumber: try PeerIdentity(certificate: revokedClient.certificate).serialNumber, expires: .distantFuture, reason: "revoked by test")])
        let trust = ClusterTrust(
            anchors: TrustAnchors(roots: [cluster.ca.certificate], revocations: list),
            membership: { $0.nodeID == "worker-gone" ? "node worker-gone was removed" : nil },
            onRefusal: refusals.record)
        try await withServer(cluster.manager, trust: trust) { _, server in
            for identity in [removed, revokedClient] {
                let bad = try ClientTLS(identity: identity)
                await #expect(throws: (any Error).self) {
                    _ = try await Exchange.ping(group: group, port: server.port) { try bad.makeClientHandler() }
                }
            }
            let good = try ClientTLS(identity: kept)
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try good.makeClientHandler() }
            #expect(reply == "ping")
            try await channel.close()
        }
        #expect(refusals.all.contains(.revoked(subject: "worker-gone", reason: "node worker-gone was removed")))
        #expect(refusals.all.contains(.revoked(subject: "client-ops", reason: "revoked by test")))
    }

    @Test func expiredCertificateIsRefused() async throws {
        let cluster = try TestCluster()
        let expired = try cluster.node("worker-old", validity: 3600, now: Date() - 7200)
        let refusals = Refusals()
        try await withServer(cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate, onRefusal: refusals.record)) { _, server in
            let client = try ClientTLS(identity: expired)
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            }
        }
        #expect(refusals.contains("worker-old expired"), "\(refusals.all)")
    }

    @Test func clientRefusesAServerThatIsNotAManager() async throws {
        let cluster = try TestCluster()
        let worker = try cluster.node("worker-1")
        let other = try cluster.node("worker-2")
        try await withServer(other, trust: ClusterTrust(caCertificate: cluster.ca.certificate)) { _, server in
            let refusals = Refusals()
            let client = try ClientTLS(identity: worker, onRefusal: refusals.record)
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            }
            #expect(refusals.contains("worker-2 is a worker, and only manager certificates are accepted here"), "\(refusals.all)")
            // Any node is fine when the client asks for no role (an agent's direct port).
            let direct = try ClientTLS(identity: worker, server: nil)
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try direct.makeClientHandler() }
            #expect(reply == "ping")
            try await channel.close()
        }
    }

    /// An agent's direct port: only certificates of people and tools get through the handshake;
    /// a node's, a worker's included, never reaches its API.
    @Test func theDirectPortAdmitsClientCertificatesOnly() async throws {
        let cluster = try TestCluster()
        let agent = try cluster.node("worker-1")
        let refusals = Refusals()
        try await withServer(agent, trust: ClusterTrust(caCertificate: cluster.ca.certificate, onRefusal: refusals.record), allowedClients: Role.clients) { tls, server in
            for role in [Role.worker, .manager] {
                let node = try ClientTLS(identity: try cluster.node("node-\(role)", role: role), server: nil)
                await #expect(throws: (any Error).self, "a \(role) node reached the direct port") {
                    _ = try await Exchange.ping(group: group, port: server.port) { try node.makeClientHandler() }
                }
            }
            #expect(refusals.contains("node-worker is a worker, and only admin or operator or readonly certificates are accepted here"), "\(refusals.all)")
            for role in Role.clients {
                let client = try ClientTLS(identity: try cluster.node("client-\(role)", role: role), server: nil)
                let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
                #expect(reply == "ping", "a \(role) client was refused")
                try await channel.close()
            }
            _ = tls
        }
    }

    /// A renewed or rotated identity is served from the next handshake on, without a restart.
    @Test func aReplacedServingIdentityIsPresentedAtTheNextHandshake() async throws {
        let cluster = try TestCluster()
        let serving = try ServingIdentity(cluster.manager)
        let tls = try ServerTLS(identity: serving, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        defer { Task { await server.close() } }
        let client = try ClientTLS(identity: try cluster.node("worker-1"))
        let (_, first) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
        #expect(try await client.peerIdentity(of: first)?.nodeID == "manager-1")
        try await first.close()
        try serving.replace(with: try cluster.ca.issueIdentity(nodeID: "manager-2", role: .manager))
        let (_, second) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
        #expect(try await client.peerIdentity(of: second)?.nodeID == "manager-2")
        try await second.close()
        await server.close()
    }
}

/// The configuration-only path that Hummingbird, AsyncHTTPClient and the WebSocket client take:
/// BoringSSL checks the chain and the server name, the custom callback the rest.
@Suite(.serialized) struct ConfigurationOnlyTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton

    /// A client that has only a TLS configuration checks the role as the server name the role's
    /// certificates carry: a worker's certificate does not name `pier-manager`, a client's names
    /// nothing and is not for servers.
    @Test func theServerNameIsTheRole() async throws {
        let cluster = try TestCluster()
        let worker = try cluster.node("worker-1")
        let client = try ClientTLS(identity: worker, server: .manager)
        #expect(client.serverName == "pier-manager")
        let context = try NIOSSLContext(configuration: client.configuration)
        for (identity, accepted) in [(cluster.manager, true), (try cluster.node("worker-2"), false), (try cluster.node("client-x", role: .admin), false)] {
            let tls = try ServerTLS(identity: identity, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
            let serverContext = try NIOSSLContext(configuration: tls.configuration)
            let callback = tls.verificationCallback
            let server = try await EchoServer(group: group) {
                NIOSSLServerHandler(context: serverContext, customVerificationCallback: callback, configuration: .init())
            }
            let attempt = await attempting {
                try await Exchange.ping(group: group, port: server.port) { try NIOSSLClientHandler(context: context, serverHostname: client.serverName) }
            }
            switch attempt {
            case .success(let (reply, channel)):
                #expect(accepted, "\(identity.nodeID) (\(identity.role)) passed as pier-manager")
                #expect(reply == "ping")
                try await channel.close()
            case .failure(let error):
                #expect(!accepted, "the manager was refused: \(error)")
                #expect("\(error)".contains("Couldn't find pier-manager") || "\(error)".contains("CERTIFICATE_VERIFY_FAILED"), "\(error)")
            }
            await server.close()
        }
    }

    @Test func hummingbirdStyleServerRefusesRemovedNodesAtHandshake() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let refusals = Refusals()
        let trust = ClusterTrust(
            anchors: TrustAnchors(roots: [cluster.ca.certificate]),
            membership: { $0.nodeID == "worker-gone" ? "removed" : nil }, onRefusal: refusals.record)
        let tls = try ServerTLS(identity: cluster.manager, trust: trust)
        let context = try NIOSSLContext(configuration: tls.configuration)
        let callback = tls.verificationCallback
        let server = try await EchoServer(group: group) {
            NIOSSLServerHandler(context: context, customVerificationCallback: callback, configuration: .init())
        }
        let client = try ClientTLS(identity: removed)
        let clientContext = try NIOSSLContext(configuration: client.configuration)
        await #expect(throws: (any Error).self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try NIOSSLClientHandler(context: clientContext, serverHostname: client.serverName) }
        }
        #expect(refusals.all == [.revoked(subject: "worker-gone", reason: "removed")], "\(refusals.all)")
        // Positive control: a member of the same cluster gets through the same server and client path.
        let kept = try ClientTLS(identity: try cluster.node("worker-kept"))
        let keptContext = try NIOSSLContext(configuration: kept.configuration)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) {
            try NIOSSLClientHandler(context: keptContext, serverHostname: kept.serverName)
        }
        #expect(reply == "ping")
        try await channel.close()
        #expect(refusals.all.count == 1, "\(refusals.all)")
        await server.close()
    }

    /// After the handshake, each request reads the caller again: a node removed (or a certificate
    /// revoked) while its connection is open gets no further.
    @Test func anOpenConnectionIsRefusedOnceItsNodeIsRemoved() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let gone = Mutex<Set<String>>([])
        let trust = ClusterTrust(
            anchors: TrustAnchors(roots: [cluster.ca.certificate]),
            membership: { identity in gone.withLock { $0.contains(identity.nodeID) } ? "removed" : nil })
        let tls = try ServerTLS(identity: cluster.manager, trust: trust)
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        let client = try ClientTLS(identity: removed)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
        #expect(reply == "ping")
        let child = try #require(await server.nextConnection())
        #expect(try await tls.peerIdentity(of: child)?.nodeID == "worker-gone")
        gone.withLock { _ = $0.insert("worker-gone") }
        await #expect(throws: PKIError.revoked(subject: "worker-gone", reason: "removed")) {
            _ = try await tls.peerIdentity(of: child)
        }
        try await channel.close()
        await server.close()
    }
}

/// An agent joining with only a token.
@Suite(.serialized) struct JoinTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func pinnedFingerprintAcceptsTheManagerAndYieldsTheCA() async throws {
        let cluster = try TestCluster()
        let tls = try ServerTLS(identity: cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        let join = try JoinTLS(token: try cluster.token)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try join.makeClientHandler() }
        #expect(reply == "ping")
        let ca = try await join.pinnedCA(of: channel)
        #expect(ca == cluster.ca.certificate)
        try await channel.close()
        await server.close()
    }

    @Test func wrongFingerprintRefusesTheServer() async throws {
        let cluster = try TestCluster()
        let tls = try ServerTLS(identity: cluster.manager, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        let otherCA = try ClusterCA.create()
        let join = try JoinTLS(token: try JoinToken.generate(caFingerprint: otherCA.fingerprint))
        let presented = try [cluster.manager.certificate, cluster.ca.certificate].map { try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der) }
        // The reason, checked directly; then the same refusal at a real handshake.
        await #expect(throws: PKIError.untrusted(
            "the server presented no CA with fingerprint \(otherCA.fingerprint); the token is for another cluster, or this is not your manager")
        ) { _ = try await join.verify(presented: presented) }
        await #expect(throws: NIOSSLError.self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try join.makeClientHandler() }
        }
        // Positive control: the same server, joined with a token for its own CA, is accepted.
        let right = try JoinTLS(token: try cluster.token)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try right.makeClientHandler() }
        #expect(reply == "ping")
        try await channel.close()
        await server.close()
    }

    @Test func pinnedCAMustHaveSignedAManagerCertificate() async throws {
        // A worker of the right cluster presents the right CA, but is not a manager.
        let cluster = try TestCluster()
        let worker = try cluster.node("worker-1")
        let join = try JoinTLS(token: try cluster.token)
        let presented = try [worker.certificate, cluster.ca.certificate].map {
            try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der)
        }
        await #expect(throws: PKIError.untrusted("worker-1 is a worker, and only manager certificates are accepted here")) {
            _ = try await join.verify(presented: presented)
        }
        // The same check passes for the manager.
        let managerChain = try [cluster.manager.certificate, cluster.ca.certificate].map {
            try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der)
        }
        let (ca, _) = try await join.verify(presented: managerChain)
        #expect(ca == cluster.ca.certificate)
    }
}

func attempting<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
