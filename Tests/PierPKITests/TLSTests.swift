import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import X509
@testable import PierPKI

/// Real TLS handshakes over loopback between the configurations PierPKI hands out.
@Suite(.serialized) struct MutualTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton

    func withServer<T>(
        _ cluster: TestCluster,
        trust: ClusterTrust? = nil,
        _ body: (ServerTLS, EchoServer) async throws -> T
    ) async throws -> T {
        let tls = try ServerTLS(identity: cluster.manager, trust: trust ?? ClusterTrust(caCertificate: cluster.ca.certificate))
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
        try await withServer(cluster) { tls, server in
            let client = try ClientTLS(identity: worker)
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            #expect(reply == "ping")
            let child = try #require(await server.nextConnection())
            let peer = try #require(try await tls.peerIdentity(of: child))
            #expect(peer.nodeID == "worker-1")
            #expect(peer.role == .worker)
            #expect(peer.clusterID == "test-cluster")
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
        try await withServer(cluster) { tls, server in
            let context = try NIOSSLContext(configuration: try ClientTLS.anonymous(trusting: cluster.ca.certificate))
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) {
                try NIOSSLClientHandler(context: context, serverHostname: nil)
            }
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
        let refusals = Mutex<[PKIError]>([])
        let trust = ClusterTrust(caCertificate: cluster.ca.certificate, onRefusal: { e in refusals.withLock { $0.append(e) } })
        try await withServer(cluster, trust: trust) { _, server in
            // The client trusts the real CA, so only the server's check can refuse it.
            let client = try ClientTLS(identity: forged, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            }
        }
        let reasons = refusals.withLock { $0 }
        #expect(reasons.contains { "\($0)".contains("does not chain to the cluster CA") })
    }

    @Test func removedNodeIsRefusedAtHandshake() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let kept = try cluster.node("worker-kept")
        let refusals = Mutex<[PKIError]>([])
        let trust = ClusterTrust(
            caCertificate: cluster.ca.certificate,
            isRevoked: { $0 == "worker-gone" },
            onRefusal: { e in refusals.withLock { $0.append(e) } })
        try await withServer(cluster, trust: trust) { _, server in
            let bad = try ClientTLS(identity: removed)
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try bad.makeClientHandler() }
            }
            let good = try ClientTLS(identity: kept)
            let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try good.makeClientHandler() }
            #expect(reply == "ping")
            try await channel.close()
        }
        #expect(refusals.withLock { $0 }.contains(.revoked(nodeID: "worker-gone")))
    }

    @Test func expiredCertificateIsRefused() async throws {
        let cluster = try TestCluster()
        let expired = try cluster.node("worker-old", validity: 3600, now: Date() - 7200)
        let refusals = Mutex<[PKIError]>([])
        let trust = ClusterTrust(caCertificate: cluster.ca.certificate, onRefusal: { e in refusals.withLock { $0.append(e) } })
        try await withServer(cluster, trust: trust) { _, server in
            let client = try ClientTLS(identity: expired)
            await #expect(throws: (any Error).self) {
                _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
            }
        }
        #expect(refusals.withLock { $0 }.contains { "\($0)".contains("worker-old expired") })
    }

    @Test func clientRefusesAServerThatIsNotAManager() async throws {
        let cluster = try TestCluster()
        let worker = try cluster.node("worker-1")
        let other = try cluster.node("worker-2")
        let tls = try ServerTLS(identity: other, trust: ClusterTrust(caCertificate: cluster.ca.certificate))
        let server = try await EchoServer(group: group) { tls.makeServerHandler() }
        let client = try ClientTLS(identity: worker)
        await #expect(throws: (any Error).self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try client.makeClientHandler() }
        }
        // Any node is fine when the client asks for no role (an agent's direct-mode port).
        let direct = try ClientTLS(identity: worker, serverRole: nil)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) { try direct.makeClientHandler() }
        #expect(reply == "ping")
        try await channel.close()
        await server.close()
    }
}

/// The configuration-only path that Hummingbird and AsyncHTTPClient take.
@Suite(.serialized) struct ConfigurationOnlyTLSTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func hummingbirdStyleServerRefusesRemovedNodesAtHandshake() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let trust = ClusterTrust(caCertificate: cluster.ca.certificate, isRevoked: { $0 == "worker-gone" })
        let tls = try ServerTLS(identity: cluster.manager, trust: trust)
        let context = try NIOSSLContext(configuration: tls.configuration)
        let callback = tls.verificationCallback
        let server = try await EchoServer(group: group) {
            NIOSSLServerHandler(context: context, customVerificationCallback: callback, configuration: .init())
        }
        let client = try NIOSSLContext(configuration: try ClientTLS(identity: removed).configuration)
        await #expect(throws: (any Error).self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try NIOSSLClientHandler(context: client, serverHostname: nil) }
        }
        await server.close()
    }

    @Test func configurationAloneChecksTheChainAndPeerIdentityChecksRemoval() async throws {
        let cluster = try TestCluster()
        let removed = try cluster.node("worker-gone")
        let revoked = Mutex<Set<String>>([])
        let trust = ClusterTrust(caCertificate: cluster.ca.certificate, isRevoked: { id in revoked.withLock { $0.contains(id) } })
        let tls = try ServerTLS(identity: cluster.manager, trust: trust)
        let context = try NIOSSLContext(configuration: tls.configuration)
        let server = try await EchoServer(group: group) { NIOSSLServerHandler(context: context) }

        // A node of another cluster fails BoringSSL's own chain check.
        let foreign = try ClusterCA.create().issueIdentity(nodeID: "x", role: .worker)
        var foreignConfiguration = try ClientTLS(identity: foreign).configuration
        foreignConfiguration.trustRoots = .certificates([try NIOSSLCertificate(bytes: try cluster.ca.certificate.derBytes(), format: .der)])
        let foreignContext = try NIOSSLContext(configuration: foreignConfiguration)
        await #expect(throws: (any Error).self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try NIOSSLClientHandler(context: foreignContext, serverHostname: nil) }
        }
        _ = await server.nextConnection()

        // A member gets in; once removed, its open connection no longer yields an identity.
        let client = try NIOSSLContext(configuration: try ClientTLS(identity: removed).configuration)
        let (reply, channel) = try await Exchange.ping(group: group, port: server.port) {
            try NIOSSLClientHandler(context: client, serverHostname: nil)
        }
        #expect(reply == "ping")
        let child = try #require(await server.nextConnection())
        #expect(try await tls.peerIdentity(of: child)?.nodeID == "worker-gone")
        revoked.withLock { _ = $0.insert("worker-gone") }
        await #expect(throws: PKIError.revoked(nodeID: "worker-gone")) {
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
        await #expect(throws: (any Error).self) {
            _ = try await Exchange.ping(group: group, port: server.port) { try join.makeClientHandler() }
        }
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
        await #expect(throws: PKIError.self) { _ = try await join.verify(presented: presented) }
        // The same check passes for the manager.
        let managerChain = try [cluster.manager.certificate, cluster.ca.certificate].map {
            try NIOSSLCertificate(bytes: try $0.derBytes(), format: .der)
        }
        let (ca, _) = try await join.verify(presented: managerChain)
        #expect(ca == cluster.ca.certificate)
    }
}
