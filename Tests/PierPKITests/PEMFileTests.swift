import Foundation
import Testing
import X509
@testable import PierPKI

/// The PKI's files: certificates read in order with the file named on failure, and keys written
/// atomically with their mode set exactly, whatever the umask.
@Suite struct PEMFileTests {
    @Test func bundlesAreReadInOrderAndBadFilesNamed() throws {
        let dir = try TemporaryDirectory()
        let ca = try ClusterCA.create(clusterID: "c")
        let node = try ca.issueIdentity(nodeID: "node-1", role: .worker)
        let bundle = try node.certificate.serializeAsPEM().pemString + "\n" + ca.certificate.serializeAsPEM().pemString + "\n"
        let path = PEMFile.path(dir.path, "chain.pem")
        try PEMFile.write(bundle, to: path, mode: PEMFile.publicMode)
        #expect(try PEMFile.certificates(at: path) == [node.certificate, ca.certificate])
        #expect(try Certificate.all(pem: bundle) == [node.certificate, ca.certificate])

        let garbage = PEMFile.path(dir.path, "garbage.pem")
        try PEMFile.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", to: garbage, mode: PEMFile.publicMode)
        #expect {
            try PEMFile.certificates(at: garbage)
        } throws: { error in
            guard case PKIError.unreadableFile(let named, let reason) = error else { return false }
            return named == garbage && reason.contains("not PEM certificates")
        }
        #expect(throws: PKIError.malformed(what: "a root", reason: "no certificate in it")) { try Certificate.all(pem: "", what: "a root") }
        #expect {
            try PEMFile.certificates(at: PEMFile.path(dir.path, "absent.pem"))
        } throws: { error in
            guard case PKIError.unreadableFile(let named, _) = error else { return false }
            return named.hasSuffix("/absent.pem")
        }
    }

    @Test func writesReplaceAtomicallyWithTheExactModeAndLeaveNoTemporaryFile() throws {
        let dir = try TemporaryDirectory()
        let path = PEMFile.path(dir.path, "node-key.pem")
        let old = umask(0)
        defer { umask(old) }
        try PEMFile.write("first", to: path, mode: PEMFile.privateMode)
        #expect(try dir.mode("node-key.pem") == 0o600)
        try PEMFile.write("second", to: path, mode: PEMFile.privateMode)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "second")
        // A narrowing umask is overridden too: a certificate stays readable.
        umask(0o077)
        try PEMFile.write("cert", to: PEMFile.path(dir.path, "node.pem"), mode: PEMFile.publicMode)
        #expect(try dir.mode("node.pem") == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["node-key.pem", "node.pem"])
        #expect(PEMFile.path(dir.path + "/", "x") == dir.path + "/x")
    }

    @Test func aWriteThatCannotHappenSaysWhereAndChangesNothing() throws {
        let dir = try TemporaryDirectory()
        let missing = PEMFile.path(dir.path, "no-such-dir/key.pem")
        #expect {
            try PEMFile.write("x", to: missing, mode: PEMFile.privateMode)
        } throws: { error in
            guard case PKIError.unwritableFile(let named, let reason) = error else { return false }
            return named == missing && reason.contains("No such file")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    @Test func secretFilesAndDatabasesArePrivate() throws {
        let dir = try TemporaryDirectory()
        let secret = URL(fileURLWithPath: dir.path).appendingPathComponent("token.key")
        try SecretFile.write(Data([1, 2, 3]), to: secret)
        #expect(try dir.mode("token.key") == 0o600)
        let database = URL(fileURLWithPath: dir.path).appendingPathComponent("state.db")
        FileManager.default.createFile(atPath: database.path, contents: nil, attributes: [.posixPermissions: 0o644])
        FileManager.default.createFile(atPath: database.path + "-wal", contents: nil, attributes: [.posixPermissions: 0o644])
        try SecretFile.prepareDatabase(database)
        #expect(try dir.mode("state.db") == 0o600 && dir.mode("state.db-wal") == 0o600)
        let root = URL(fileURLWithPath: dir.path).appendingPathComponent("data")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try SecretFile.secureDirectory(root)
        #expect(try dir.mode("data") == 0o700)
        // A file where the directory should be is refused.
        #expect {
            try SecretFile.secureDirectory(secret)
        } throws: { error in
            guard case PKIError.unwritableFile(let named, _) = error else { return false }
            return named == secret.path
        }
    }
}
