import Crypto
import SwiftASN1
import Foundation
import Testing
import X509
@testable import PierPKI

@Suite struct ClusterCATests {
    @Test func createsASelfSignedCAWithTheRightExtensions() throws {
        let ca = try ClusterCA.create(clusterID: "cluster1")
        let cert = ca.certificate
        #expect(cert.subject == cert.issuer)
        #expect(cert.subjectValue(.RDNAttributeType.commonName) == "pier-cluster-ca")
        #expect(ca.clusterID == "cluster1")
        #expect(try cert.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
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
        let cert = try ca.issue(csr: csr, nodeID: "node-7", role: .worker, dnsNames: ["gw7.local"], ipAddresses: ["10.0.0.7", "fd00::7"])
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
            try ca.issue(csr: forged, nodeID: "n1", role: .worker)
        }
    }

    @Test func badNamesAreRefused() throws {
        let ca = try ClusterCA.create()
        let request = try CertificateRequest.generate()
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, nodeID: "a/b", role: .worker) }
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, nodeID: "", role: .worker) }
        #expect(throws: PKIError.self) { try ca.issue(csr: request.csr, nodeID: "n", role: .worker, ipAddresses: ["10.0.0"]) }
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
        let cert = try loaded.issue(csr: try CertificateRequest.generate().csr, nodeID: "n1", role: .manager)
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
    @Test func renewsWhenLessThanAThirdIsLeft() throws {
        let ca = try ClusterCA.create()
        let now = Date()
        let identity = try ca.issueIdentity(nodeID: "n1", role: .worker, now: now)
        let day: TimeInterval = 24 * 3600
        #expect(!identity.needsRenewal(now: now))
        #expect(!identity.needsRenewal(now: now + 59 * day))
        #expect(identity.needsRenewal(now: now + 61 * day))
        #expect(identity.needsRenewal(now: now + 91 * day))
    }

    /// The CA backdates certificates by its clock-skew allowance (5 min); that margin must not
    /// count as validity, or a short-lived certificate would be due for renewal at once.
    @Test func theClockSkewMarginIsNotValidity() throws {
        let ca = try ClusterCA.create()
        let now = Date()
        let identity = try ca.issueIdentity(nodeID: "n1", role: .worker, validity: 30, now: now)
        #expect(abs(identity.validity - 30) < 1.5)
        #expect(!identity.needsRenewal(now: now))
        #expect(!identity.needsRenewal(now: now + 18))
        #expect(identity.needsRenewal(now: now + 22))
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
            try NodeIdentity(privateKey: P256.Signing.PrivateKey(), certificate: identity.certificate, caCertificate: ca.certificate)
        }
        let other = try ClusterCA.create()
        let request = try CertificateRequest.generate()
        let certificate = try ca.issue(csr: request.csr, nodeID: "n2", role: .worker)
        #expect(throws: PKIError.self) {
            try request.identity(certificate: certificate, caCertificate: other.certificate)
        }
        #expect(try request.identity(certificate: certificate, caCertificate: ca.certificate).nodeID == "n2")
    }
}

