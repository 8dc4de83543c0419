import Foundation
import PierAccess
import PierCluster
import PierPKI
import Synchronization
import Testing
@testable import PierManager

/// Joining, certificate issue and renewal against a real manager and CA on a scratch directory:
/// who is admitted with which role, what is stored, and who is refused and why.
@Suite struct MembershipTests {
    static func withMembership(_ body: (Membership, Manager, URL) async throws -> Void) async throws {
        try await withTemporaryDirectory { dir in
            let manager = try await ManagerTests.makeManager(dir)
            let membership = try await Membership(directory: dir.appendingPathComponent("pki"), manager: manager)
            try await body(membership, manager, dir)
        }
    }

    static func refusal(_ body: () async throws -> Void) async -> String {
        do { try await body(); return "accepted" } catch { return "\(error)" }
    }

    static func join(_ membership: Membership, token: String, hostname: String = "gw-1") async throws -> (JoinResponse, CertificateRequest) {
        let request = try CertificateRequest.generate()
        return (try await membership.join(JoinRequest(token: token, csr: try request.pemString(), hostname: hostname), address: nil), request)
    }

    @Test func aTokenAdmitsANodeWithItsRoleAndOnlyItsDigestIsKept() async throws {
        try await Self.withMembership { membership, manager, _ in
            let worker = try await membership.rotateToken(role: "worker")
            let managerToken = try await membership.rotateToken(role: "manager")
            #expect(await manager.metaValue("token.worker.sha256") == SecretDigest.sha256(try JoinToken.parse(worker.token).secret))
            #expect(await manager.metaValues(prefix: "token.").allSatisfy { !$0.contains(try! JoinToken.parse(worker.token).secret) })

            let (answer, request) = try await Self.join(membership, token: worker.token)
            let identity = try request.identity(certificatePEM: answer.certificate, rootsPEM: answer.caCertificate)
            #expect(identity.nodeID == answer.nodeID && identity.role == .worker)
            #expect(try await manager.lookupNode("gw-1").role == .worker)
            #expect(await membership.refusal(for: try PeerIdentity(certificate: identity.certificate)) == nil)

            let (promoted, managerRequest) = try await Self.join(membership, token: managerToken.token, hostname: "gw-2")
            #expect(try managerRequest.identity(certificatePEM: promoted.certificate, rootsPEM: promoted.caCertificate).role == .manager)
        }
    }

    @Test func badTokensHostnamesAndRequestsAreRefusedAndNothingIsAdded() async throws {
        try await Self.withMembership { membership, manager, _ in
            let token = try await membership.rotateToken(role: "worker").token
            let csr = try CertificateRequest.generate().pemString()
            let other = try JoinToken.generate(caFingerprint: try ClusterCA.create().fingerprint)
            var wrongSecret = Array(token)
            wrongSecret[wrongSecret.count - 1] = wrongSecret.last == "a" ? "b" : "a"
            let cases: [(JoinRequest, String)] = [
                (JoinRequest(token: "nonsense", csr: csr, hostname: "gw"), "join token:"),
                (JoinRequest(token: other.text, csr: csr, hostname: "gw"), "join token is for another cluster"),
                (JoinRequest(token: String(wrongSecret), csr: csr, hostname: "gw"), "join token is not valid"),
                (JoinRequest(token: token, csr: csr, hostname: "bad host!"), "hostname: \"bad host!\""),
                (JoinRequest(token: token, csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", hostname: "gw"), "csr:"),
            ]
            for (request, reason) in cases {
                let refused = await Self.refusal { _ = try await membership.join(request, address: nil) }
                #expect(refused.contains(reason), "\(request.hostname): \(refused)")
            }
            #expect(await manager.listNodes().isEmpty)
            // A rotated token no longer admits anyone; its successor does.
            let next = try await membership.rotateToken(role: "worker").token
            #expect(await Self.refusal { _ = try await Self.join(membership, token: token) }.contains("join token is not valid"))
            #expect(await Self.refusal { _ = try await Self.join(membership, token: next) } == "accepted")
            #expect(await Self.refusal { _ = try await membership.rotateToken(role: "admin") }.contains("role \"admin\""))
        }
    }

    @Test func renewalKeepsTheRecordedRoleAndRefusesRemovedNodesAndClients() async throws {
        try await Self.withMembership { membership, _, _ in
            let token = try await membership.rotateToken(role: "worker").token
            let (answer, request) = try await Self.join(membership, token: token)
            let identity = try request.identity(certificatePEM: answer.certificate, rootsPEM: answer.caCertificate)
            let peer = try PeerIdentity(certificate: identity.certificate)

            let fresh = try CertificateRequest.generate()
            let renewed = try await membership.renew(peer, csr: try fresh.pemString())
            let again = try fresh.identity(certificatePEM: renewed.certificate, rootsPEM: renewed.caCertificate)
            #expect(renewed.nodeID == identity.nodeID && again.nodeID == identity.nodeID && again.role == .worker)
            #expect(again.certificate.serialNumber != identity.certificate.serialNumber)

            // A client certificate of the cluster is not a node's: no renewal here.
            let ca = await membership.current
            let client = try PeerIdentity(certificate: try ca.issueIdentity(nodeID: "client-ops", role: .admin).certificate)
            #expect(await Self.refusal { _ = try await membership.renew(client, csr: try fresh.pemString()) }.contains("only nodes renew"))
            #expect(await Self.refusal { _ = try await membership.renew(peer, csr: "garbage") }.contains("csr:"))

            // Removed: refused at renewal and by `refusal(for:)`, which the TLS trust asks.
            try await membership.removeNode(identity.nodeID, force: true)
            #expect(await Self.refusal { _ = try await membership.renew(peer, csr: try fresh.pemString()) }.contains("is not a node of this cluster"))
            #expect(await membership.refusal(for: peer)?.contains("was removed from the cluster") == true)
            #expect(membership.anchors.revocations.entries.contains { $0.nodeID == identity.nodeID })
        }
    }
}
