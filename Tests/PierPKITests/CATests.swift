import Crypto
import SwiftASN1
import Foundation
import Testing
import X509
import PierAccess
@testable import PierPKI

@Suite struct ClusterCATests {
    @Test func createsASelfSignedCAWithTheRightExtensions() throws {
        let ca = try ClusterCA.create(clusterID: "cluster1")
        let cert = ca.certificate
        #expect(cert.subject == cert.issuer)
        #expect(cert.subjectValue(.RDNAttributeType.commonName) == "pier-cluster-ca")
        #expect(ca.clusterID == "cluster1")
        // One intermediate may sit below it: the cross-signed certificate of a rotation's new CA.
        #expect(try cert.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 1))
        let usage = try #require(try cert.extensions.keyUsage)
        #expect(usage.keyCertSign && usage.cRLSign)
        #expect(cert.notValidAfter.timeIntervalSince(cert.notValidBefore) >= 10 * 365 * 24 * 3600)
        #expect(ca.fingerprint.count == 64)
        #expect(ca.fingerprint == Hex.encode(SHA256.hash(data: try cert.derBytes())))
    }

    @Test func issuedSubjectComesFromTheManagerNotTheRequest() throws {
        let ca = try ClusterCA.create(clusterID: "c1")
        let request = try CertificateRequest.generate(commonName: "admin")
        let csr = try CertificateRequest.parseCSR(pem: try request.pemString())
        let cert = try ca.issue(csr: csr, subject: "node-7", role: .worker, dnsNames: ["gw7.local"], ipAddresses: ["10.0.0.7", "fd00::7"])
        let identity = try PeerIdentity(certificate: cert)
        #expect(identity.nodeID == "node-7")
        #expect(identity.role == .worker)
        #expect(identity.clusterID == "c1")
        #expect(cert.subjectValue(.RDNAttributeType.organizationalUnitName) == "pier-worker")
        #expect(cert.issuer == ca.certificate.subject)
        #expect(ca.certificate.publicKey.isValidSignature(cert.signature, for: cert))
        let eku = try #require(try cert.extensions.extendedKeyUsage)
        #expect(eku.contains(.serverAuth) && eku.contains(.clientAuth))
        let san = try #require(try cert.extensions.subjectAlternativeNames)
        #expect(san.contains(.dnsName("gw7.local")))
        // The role's server name, which clients check, and the one every node has.
        #expect(san.contains(.dnsName("pier-worker")) && san.contains(.dnsName("pier-node")))
        #expect(!san.contains(.dnsName("pier-manager")))
        #expect(san.contains(.ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 7]))))
        #expect(try cert.extensions.basicConstraints == .notCertificateAuthority)
        let lifetime = cert.notValidAfter.timeIntervalSince(cert.notValidBefore)
        #expect(abs(lifetime - (90 * 24 * 3600 + ClusterCA.clockSkewAllowance)) < 2)
    }

    @Test func requestWithABadSignatureIsRefused() throws {
        let ca = try ClusterCA.create()
        let honest = try CertificateRequest.generate()
        let victim = P256.Signing.PrivateKey()
        // The victim's public key with a signature made by another key.
        let forged = try CertificateSigningRequest(
            version: .v1, subject: honest.csr.subject,
            publicKey: Certificate.PublicKey(victim.publicKey),
            attributes: honest.csr.attributes,
            signatureAlgorithm: honest.csr.signatureAlgorithm,
            signature: honest.csr.signature)
        #expect(throws: PKIError.csrSignatureInvalid) {
            try ca.issue(csr: forged, subject: "n1", role: .worker)
        }
    }

    @Test func badNamesAreRefused() throws {
        let ca = try ClusterCA.create()
        let request = try CertificateRequest.generate()
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, subject: "a/b", role: .worker) }
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, subject: "", role: .worker) }
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, subject: "n", role: .worker, ipAddresses: ["10.0.0"]) }
    }

    @Test func savesAndLoadsWithPrivateKeyModes() throws {
        let dir = try TemporaryDirectory()
        let ca = try ClusterCA.create()
        try ca.save(to: dir.path)
        #expect(try dir.mode("ca-key.pem") == 0o600)
        let loaded = try ClusterCA.load(from: dir.path)
        #expect(loaded.fingerprint == ca.fingerprint)
        #expect(loaded.clusterID == ca.clusterID)
        // The loaded key still signs for this CA.
        let cert = try loaded.issue(csr: try CertificateRequest.generate().csr, subject: "n1", role: .manager)
        #expect(ca.certificate.publicKey.isValidSignature(cert.signature, for: cert))
        #expect(try ClusterCA.loadOrCreate(in: dir.path).fingerprint == ca.fingerprint)
    }

    @Test func loadOrCreateCreatesOnFirstStart() throws {
        let dir = try TemporaryDirectory()
        let created = try ClusterCA.loadOrCreate(in: dir.path)
        #expect(try ClusterCA.load(from: dir.path).fingerprint == created.fingerprint)
    }

    @Test func missingFilesNameThePath() throws {
        let dir = try TemporaryDirectory()
        do {
            _ = try ClusterCA.load(from: dir.path)
            Issue.record("loaded a CA from an empty directory")
        } catch {
            #expect("\(error)".contains("\(dir.path)/ca.pem"))
        }
    }
}

@Suite struct NodeIdentityTests {
    /// Renewal falls between 50 % and 80 % of a certificate's life, at a point that depends on the
    /// certificate (so a fleet that joined together does not renew together) and that every check
    /// of one certificate agrees on.
    @Test func renewsBetweenHalfAndEightyPercentOfItsLife() throws {
        let ca = try ClusterCA.create()
        let now = Date()
        let day: TimeInterval = 24 * 3600
        var fractions: [Double] = []
        for i in 0..<40 {
            let identity = try ca.issueIdentity(nodeID: "n\(i)", role: .worker, now: now)
            #expect(!identity.needsRenewal(now: now))
            #expect(!identity.needsRenewal(now: now + 44.9 * day))
            #expect(identity.needsRenewal(now: now + 72.1 * day))
            #expect(identity.needsRenewal(now: now + 91 * day))
            let fraction = identity.renewalTime.timeIntervalSince(now) / (90 * day)
            #expect(fraction >= 0.5 && fraction <= 0.8, "renewal at \(fraction) of the life")
            #expect(identity.renewalTime == identity.renewalTime, "one certificate, one renewal time")
            fractions.append(fraction)
        }
        // Spread, not one point for everyone.
        #expect((fractions.max() ?? 0) - (fractions.min() ?? 0) > 0.1)
    }

    /// The CA backdates certificates by its clock-skew allowance (5 min); that margin must not
    /// count as validity, or a short-lived certificate would be due for renewal at once.
    @Test func theClockSkewMarginIsNotValidity() throws {
        let ca = try ClusterCA.create()
        let now = Date()
        let identity = try ca.issueIdentity(nodeID: "n1", role: .worker, validity: 30, now: now)
        #expect(abs(identity.validity - 30) < 1.5)
        #expect(!identity.needsRenewal(now: now))
        #expect(!identity.needsRenewal(now: now + 14.9))
        #expect(identity.needsRenewal(now: now + 24.1))
    }

    @Test func savesLoadsAndParsesItsIdentity() throws {
        let dir = try TemporaryDirectory()
        let ca = try ClusterCA.create(clusterID: "c9")
        let identity = try ca.issueIdentity(nodeID: "gw-3", role: .manager)
        #expect(identity.nodeID == "gw-3")
        #expect(identity.role == .manager)
        #expect(identity.clusterID == "c9")
        try identity.save(to: dir.path)
        #expect(try dir.mode("node-key.pem") == 0o600)
        let loaded = try NodeIdentity.load(from: dir.path)
        #expect(loaded.certificate == identity.certificate)
        #expect(loaded.caCertificate == ca.certificate)
        #expect(loaded.privateKeyPEM == identity.privateKeyPEM)
    }

    @Test func refusesAKeyThatDoesNotMatch() throws {
        let ca = try ClusterCA.create()
        let identity = try ca.issueIdentity(nodeID: "n1", role: .worker)
        #expect(throws: PKIError.self) {
            try NodeIdentity(privateKey: P256.Signing.PrivateKey(), certificate: identity.certificate, roots: [ca.certificate])
        }
        let other = try ClusterCA.create()
        let request = try CertificateRequest.generate()
        let certificate = try ca.issue(csr: request.csr, subject: "n2", role: .worker)
        #expect(throws: PKIError.self) {
            try request.identity(certificate: certificate, roots: [other.certificate])
        }
        #expect(try request.identity(certificate: certificate, roots: [ca.certificate]).nodeID == "n2")
    }
}


@Suite struct ClientCertificateTests {
    @Test func aClientCertificateNamesItsRoleAndCanNeverServe() throws {
        let ca = try ClusterCA.create(clusterID: "c1")
        for role in [Role.admin, .operator, .readonly] {
            let request = try CertificateRequest.generate()
            let cert = try ca.issue(csr: request.csr, subject: "client-ops", role: role, validity: 3600)
            let identity = try PeerIdentity(certificate: cert)
            #expect(identity.role == role && identity.nodeID == "client-ops")
            #expect(cert.subjectValue(.RDNAttributeType.organizationalUnitName) == "pier-\(role.rawValue)")
            let eku = try #require(try cert.extensions.extendedKeyUsage)
            #expect(eku.contains(.clientAuth) && !eku.contains(.serverAuth), "a client certificate must not be good for servers")
            #expect(try cert.extensions.subjectAlternativeNames == nil)
        }
        // A client names no hosts.
        let request = try CertificateRequest.generate()
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, subject: "client-x", role: .admin, dnsNames: ["pier-manager"]) }
    }

    @Test func validityHasARangeAndNeverOutlivesTheCA() throws {
        let ca = try ClusterCA.create(validity: 3600)
        let request = try CertificateRequest.generate()
        for bad in [0, -1, .infinity, .nan, 400 * 86400.0] as [TimeInterval] {
            #expect(throws: PKIError.self, "validity \(bad)") { try ca.issue(csr: request.csr, subject: "n", role: .worker, validity: bad) }
        }
        let cert = try ca.issue(csr: request.csr, subject: "n", role: .worker, validity: 300 * 86400)
        #expect(cert.notValidAfter <= ca.certificate.notValidAfter)
    }
}

@Suite struct CrossSigningTests {
    /// What a CA rotation relies on: a certificate of the new CA, presented with the new CA
    /// cross-signed by the old one, is accepted by peers that trust only the old root, by peers
    /// that trust only the new one, and by peers that trust both.
    @Test func aCertificateOfTheNewCAIsAcceptedUnderEitherRoot() async throws {
        let old = try ClusterCA.create(clusterID: "c1")
        let new = try old.successor()
        #expect(new.clusterID == "c1" && new.certificate.subject != old.certificate.subject)
        #expect(new.intermediates.count == 1)
        let identity = try new.issueIdentity(nodeID: "n1", role: .worker, roots: [new.certificate, old.certificate])
        #expect(identity.intermediates == new.intermediates)
        for roots in [[old.certificate], [new.certificate], [new.certificate, old.certificate]] {
            let trust = ClusterTrust(anchors: TrustAnchors(roots: roots))
            let (peer, chain) = try await trust.verify(leaf: identity.certificate, intermediates: identity.intermediates, side: .client)
            #expect(peer.nodeID == "n1")
            #expect(roots.contains(chain.last!))
        }
        // Without the intermediate, the old root alone does not accept it.
        let oldOnly = ClusterTrust(anchors: TrustAnchors(roots: [old.certificate]))
        await #expect(throws: PKIError.self) { _ = try await oldOnly.verify(leaf: identity.certificate, side: .client) }
        // The cross-signed certificate signs nothing further down than one leaf.
        #expect(try new.intermediates[0].extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        // An identity of the old CA is still good while both roots are trusted.
        let before = try old.issueIdentity(nodeID: "n0", role: .worker)
        _ = try await ClusterTrust(anchors: TrustAnchors(roots: [new.certificate, old.certificate])).verify(leaf: before.certificate, side: .client)
        _ = try before.trusting([new.certificate, old.certificate])
    }
}
