import Foundation
import PierAccess
import PierCluster
import PierPKI
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `pier ca rotate`: the cluster moves to a new CA without breaking a session, as SwarmKit's root
/// rotation does.
///
/// 1. The manager makes the new CA and its certificate cross-signed by the old one. From then on
///    it issues every certificate from the new CA, presenting the cross-signed one beside it, so
///    peers that still trust only the old root accept them; every node is told to trust both
///    roots and to renew.
/// 2. Each node saves both roots and renews; the manager records which CA issued each node's
///    certificate.
/// 3. When every node's certificate comes from the new CA (or the nodes that have not moved are
///    removed), the old root is dropped everywhere: the manager, and every node at its next
///    message. Client certificates issued by the old CA stop working then; join tokens made before
///    the rotation pin the old CA and no longer join.
///
/// Files: the new CA is `pki/ca-next.pem` and `ca-next-key.pem` with `ca-next-cross.pem` while
/// the rotation runs; finishing renames them over `ca.pem` and `ca-key.pem`, key first, and a
/// start after a crash between the two renames completes the second.
extension Membership {
    static let rotationKey = "ca.rotation"

    struct RotationRecord: Codable {
        var from: String
        var startedAt: Date
    }

    static func path(_ directory: URL, _ name: String) -> String { directory.appendingPathComponent(name).path }

    /// The CA in force and the one a rotation moves to, from the files; creates the first CA.
    static func loadAuthorities(_ directory: URL, manager: Manager) async throws -> (ClusterCA, ClusterCA?) {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory.path, 0o700)
        let nextCert = path(directory, "ca-next.pem"), nextKey = path(directory, "ca-next-key.pem")
        let cross = path(directory, "ca-next-cross.pem")
        if fm.fileExists(atPath: nextCert) && !fm.fileExists(atPath: nextKey) {
            // A finish was cut between its two renames: the new key is ca-key.pem already.
            guard rename(nextCert, path(directory, "ca.pem")) == 0 else {
                throw ManagerError.failed("cannot complete the CA rotation: rename \(nextCert): \(String(cString: strerror(errno)))")
            }
            unlink(cross)
        }
        if !fm.fileExists(atPath: nextCert) {
            // A start cut before it wrote the certificate leaves no rotation.
            unlink(nextKey)
            unlink(cross)
            if await manager.metaValue(rotationKey) != nil { try await manager.deleteMeta(rotationKey) }
        }
        let current: ClusterCA
        do { current = try ClusterCA.loadOrCreate(in: directory.path) } catch {
            throw ManagerError.failed("cluster CA in \(directory.path): \(error)")
        }
        guard fm.fileExists(atPath: nextCert) else { return (current, nil) }
        var next: ClusterCA
        do {
            next = try ClusterCA.load(from: directory.path, name: "ca-next")
            next.intermediates = try ClusterCA.certificates(at: cross)
        } catch {
            throw ManagerError.failed("the CA rotation's new CA in \(directory.path): \(error)")
        }
        guard next.clusterID == current.clusterID else {
            throw ManagerError.failed("\(nextCert) belongs to cluster \(next.clusterID), not \(current.clusterID)")
        }
        return (current, next)
    }

    /// Starts a rotation to a new CA; returns its status. Finishes at once when no node has to move.
    public func startRotation() async throws -> CAStatus {
        guard next == nil else {
            throw ManagerError.conflict("a CA rotation is under way (pier ca status shows its progress); it finishes when every node has moved")
        }
        let date = now()
        let successor = try current.successor(now: date)
        do {
            // The certificate last: its presence is what makes the rotation real on a restart.
            try ClusterCA.write(successor.intermediates, to: Self.path(directory, "ca-next-cross.pem"))
            try successor.save(to: directory.path, name: "ca-next")
        } catch {
            unlink(Self.path(directory, "ca-next.pem"))
            unlink(Self.path(directory, "ca-next-key.pem"))
            unlink(Self.path(directory, "ca-next-cross.pem"))
            throw ManagerError.failed("cannot write the new CA to \(directory.path): \(error)")
        }
        var changes = ChangeSet()
        changes.meta[Self.rotationKey] = String(
            decoding: try JSONResponses.encoder.encode(RotationRecord(from: current.fingerprint, startedAt: date)), as: UTF8.self)
        try await manager.commitChanges(changes)
        next = successor
        try await moveServing()
        manager.logger.info("CA rotation started", metadata: ["from": "\(current.fingerprint)", "to": "\(successor.fingerprint)"])
        await publishTrust(renew: true)
        try await finishRotationIfDone()
        return await caStatus()
    }

    /// Nodes whose certificate the rotation's new CA has not issued yet (the local node of `pier
    /// up` has none and never counts).
    func nodesNotMoved() async -> [Node] {
        guard let next else { return [] }
        let local = await manager.metaValue("local.nodeID")
        var pending: [Node] = []
        for node in await manager.listNodes() where node.id != local {
            let record = await manager.metaValue(Self.nodeCertificatePrefix + node.id).flatMap(NodeCertificateRecord.decode)
            if record?.issuer != next.fingerprint { pending.append(node) }
        }
        return pending
    }

    /// Drops the old CA once every node has moved.
    func finishRotationIfDone() async throws {
        guard let next, await nodesNotMoved().isEmpty else { return }
        let key = Self.path(directory, "ca-next-key.pem"), cert = Self.path(directory, "ca-next.pem")
        guard rename(key, Self.path(directory, "ca-key.pem")) == 0, rename(cert, Self.path(directory, "ca.pem")) == 0 else {
            throw ManagerError.failed("cannot finish the CA rotation in \(directory.path): \(String(cString: strerror(errno)))")
        }
        unlink(Self.path(directory, "ca-next-cross.pem"))
        syncDirectory(directory.path)
        try await manager.deleteMeta(Self.rotationKey)
        let old = current.fingerprint
        var finished = next
        finished.intermediates = []
        current = finished
        self.next = nil
        try await moveServing()
        manager.logger.info("CA rotation finished; the old CA is no longer trusted", metadata: ["from": "\(old)", "to": "\(finished.fingerprint)"])
        await publishTrust(renew: false)
    }

    /// Trust the current roots and serve a certificate of the current signer.
    private func moveServing() async throws {
        anchors.setRoots(roots)
        try serving.replace(with: try Self.serverIdentity(signer, roots: roots, names: serverNames, now: now()), presenting: roots)
        setPinnedFingerprint(signer.fingerprint)
    }

    /// The CA and the progress of a rotation under way.
    public func caStatus() async -> CAStatus {
        guard let next else { return CAStatus(fingerprint: current.fingerprint) }
        let record = await manager.metaValue(Self.rotationKey).flatMap { try? JSONResponses.decoder.decode(RotationRecord.self, from: Data($0.utf8)) }
        let local = await manager.metaValue("local.nodeID")
        let total = await manager.listNodes().filter { $0.id != local }.count
        let pending = await nodesNotMoved()
        return CAStatus(
            fingerprint: next.fingerprint,
            rotation: .init(
                from: current.fingerprint, startedAt: record?.startedAt ?? now(), nodesMoved: total - pending.count, nodesTotal: total,
                pending: pending.map(\.description.hostname).sorted()))
    }
}

/// fsync of a directory, so renames in it survive a power cut.
func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    fsync(fd)
    close(fd)
}
