import PierTestSupport
import Crypto
import Foundation
import PierAccess
import Testing
import X509
@testable import PierPKI

/// Certificates that must not pass: each refused with the check that failed named, by the same
/// verification the TLS handshakes run.
@Suite struct BadCertificateTests {
    /// A certificate signed by `ca`'s key with any subject and validity: what a stolen CA key, a
    /// bug or a hand-made certificate could present.
    static func signed(by ca: ClusterCA, subject: DistinguishedName, notBefore: Date, notAfter: Date) throws -> Certificate {
        let key = P256.Signing.PrivateKey()
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: ca.certificate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: ca.key.signer)
    }

    static func subject(cn: String?, ou: String?, o: String?) throws -> DistinguishedName {
        try DistinguishedName {
            if let o { OrganizationName(o) }
            if let ou { OrganizationalUnitName(ou) }
            if let cn { CommonName(cn) }
        }
    }

    @Test(arguments: [
        ("client-x", nil, "cluster", "has no subject OU (role)"),
        ("client-x", "pier-root", "cluster", "has OU \"pier-root\", not a Pier role"),
        (nil, "pier-admin", "cluster", "no subject CN"),
        ("client-x", "pier-admin", nil, "has no subject O (cluster id)"),
    ] as [(String?, String?, String?, String)])
    func wrongOrMissingRolesAreRefusedNamingTheField(cn: String?, ou: String?, o: String?, why: String) async throws {
        let ca = try ClusterCA.create(clusterID: "cluster")
        let cert = try Self.signed(by: ca, subject: Self.subject(cn: cn, ou: ou, o: o), notBefore: Date() - 60, notAfter: Date() + 3600)
        let trust = ClusterTrust(caCertificate: ca.certificate)
        await #expect { _ = try await trust.verify(leaf: cert, side: .client) } throws: { "\($0)".contains(why) }
    }

    @Test func notYetValidAndExpiredCertificatesNameTheirDates() async throws {
        let ca = try ClusterCA.create(clusterID: "cluster")
        let subject = try Self.subject(cn: "client-x", ou: "pier-admin", o: "cluster")
        let trust = ClusterTrust(caCertificate: ca.certificate)
        let future = try Self.signed(by: ca, subject: subject, notBefore: Date() + 3600, notAfter: Date() + 7200)
        await #expect { _ = try await trust.verify(leaf: future, side: .client) } throws: { "\($0)".contains("is not valid before") && "\($0)".contains("check the clocks") }
        let past = try Self.signed(by: ca, subject: subject, notBefore: Date() - 7200, notAfter: Date() - 3600)
        await #expect { _ = try await trust.verify(leaf: past, side: .client) } throws: { "\($0)".contains("expired at") }
    }

    @Test(arguments: ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
    func garbagePEMIsRefusedNamingWhatWasRead(text: String) {
        #expect { _ = try Certificate.all(pem: text, what: "the roots the manager sent") } throws: { "\($0)".contains("the roots the manager sent") }
    }

    @Test(.requires(Requirement.isRoot, "root (to chown)"))
    func aDataRootOwnedBySomeoneElseIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pier-owner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(chown(dir.path, 65534, 65534) == 0)
        #expect { try SecretFile.secureDirectory(dir) } throws: { "\($0)".contains("owned by uid 65534") }
        #expect(chown(dir.path, 0, 0) == 0)
        try SecretFile.secureDirectory(dir)
        var info = stat()
        #expect(stat(dir.path, &info) == 0 && info.st_mode & 0o777 == 0o700)
    }
}
