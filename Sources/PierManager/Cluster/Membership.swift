import Crypto
import Foundation
import PierAccess
import PierCluster
import PierPKI
import Synchronization
import X509

/// Who belongs to the cluster and how they prove it: the cluster CA (and its successor while a
/// rotation is under way), the join tokens (kept as hashes), the node and client certificates it
/// issues, the revocation list, and the manager's own serving identity.
///
/// Key material lives in `DATA_ROOT/pki/` (0700): `ca.pem`, `ca-key.pem` (0600), and during a
/// rotation `ca-next.pem`, `ca-next-key.pem`, `ca-next-cross.pem`. The state store holds only
/// hashes of token secrets, the list of issued client certificates, which CA issued each node's
/// certificate, and the revocation list.
public actor Membership {
    let manager: Manager
    let directory: URL
    /// Validity of issued node certificates; short in tests to exercise rotation.
    let nodeValidity: TimeInterval
    /// The names and addresses the manager's own certificate carries besides `pier-manager`.
    let serverNames: (dns: [String], ips: [String])
    let now: @Sendable () -> Date

    /// The CA in force; while a rotation runs, the one being replaced.
    var current: ClusterCA
    /// The CA a rotation moves to; it issues every certificate while the rotation runs.
    var next: ClusterCA?

    /// The roots and revocations every TLS check of this manager uses, changed in place.
    public nonisolated let anchors: TrustAnchors
    /// The manager's own certificate on its TCP port, renewed in place.
    public nonisolated let serving: ServingIdentity
    /// The fingerprint join tokens pin, readable without waiting for the actor.
    let pinnedFingerprint: Mutex<String>

    static let revocationsKey = "revocations"
    static let clientPrefix = "client."
    static let nodeCertificatePrefix = "nodecert."

    /// Loads the CA from `directory` (or creates it on the first start), finishes a CA rotation a
    /// crash interrupted, moves secrets an older version kept in the state store out of it, and
    /// issues the manager's serving certificate.
    public init(
        directory: URL, manager: Manager, nodeValidity: TimeInterval = ClusterCA.defaultNodeValidity,
        serverNames: (dns: [String], ips: [String]) = ([], []), now: @escaping @Sendable () -> Date = { Date() }
    ) async throws {
        self.manager = manager
        self.directory = directory
        self.nodeValidity = nodeValidity
        self.serverNames = serverNames
        self.now = now
        let (current, next) = try await Self.loadAuthorities(directory, manager: manager)
        self.current = current
        self.next = next
        let revocations = try await Self.storedRevocations(manager)
        let roots = next.map { [$0.certificate, current.certificate] } ?? [current.certificate]
        anchors = TrustAnchors(roots: roots, revocations: revocations)
        let signer = next ?? current
        serving = try ServingIdentity(
            try Self.serverIdentity(signer, roots: roots, names: serverNames, now: now()), presenting: roots)
        pinnedFingerprint = Mutex(signer.fingerprint)
        try await migrateTokens()
        await publishTrust(renew: next != nil)
    }

    /// The CA that issues certificates now: the rotation's target while one runs.
    var signer: ClusterCA { next ?? current }

    /// The roots to trust: the signer first.
    var roots: [Certificate] { next.map { [$0.certificate, current.certificate] } ?? [current.certificate] }

    /// SHA-256 of the CA new join tokens pin.
    public nonisolated var caFingerprint: String { pinnedFingerprint.withLock { $0 } }

    func setPinnedFingerprint(_ fingerprint: String) { pinnedFingerprint.withLock { $0 = fingerprint } }

    /// The cluster id (the CA's subject O).
    public nonisolated var clusterID: String { serving.identity.clusterID }

    static func serverIdentity(_ ca: ClusterCA, roots: [Certificate], names: (dns: [String], ips: [String]), now: Date) throws -> NodeIdentity {
        try ca.issueIdentity(
            nodeID: "manager-" + ca.clusterID.prefix(12), role: .manager, dnsNames: names.dns, ipAddresses: names.ips,
            now: now, roots: roots)
    }

    /// Renews the manager's serving certificate when its renewal time has come and drops expired
    /// revocations; the manager's loop calls it every few seconds.
    public func maintain() async {
        let date = now()
        if serving.identity.needsRenewal(now: date) {
            do {
                try serving.replace(with: try Self.serverIdentity(signer, roots: roots, names: serverNames, now: date), presenting: roots)
            } catch {
                manager.logger.error("cannot renew the manager's certificate: \(error)")
            }
        }
        let list = anchors.revocations
        let pruned = list.pruned(now: date)
        if pruned.entries.count != list.entries.count {
            var updated = pruned
            updated.version += 1
            do { try await storeRevocations(updated) } catch {
                manager.logger.error("cannot prune the revocation list: \(error)")
            }
        }
    }

    // MARK: Join tokens

    /// Makes a new token for `role` and returns it; only its secret's hash is kept, so this is the
    /// only time it is shown. The previous token of the role no longer admits anyone.
    public func rotateToken(role: String) async throws -> JoinTokenIssued {
        guard let r = PierCluster.NodeRole(rawValue: role) else {
            throw ManagerError.invalid("role \"\(role)\": expected worker or manager")
        }
        let token = try JoinToken.generate(caFingerprint: signer.fingerprint)
        var changes = ChangeSet()
        changes.meta["token.\(r.rawValue).sha256"] = SecretDigest.sha256(token.secret)
        changes.meta["token.\(r.rawValue).created"] = ISO8601DateFormatter().string(from: now())
        try await manager.commitChanges(changes)
        return JoinTokenIssued(role: r, token: token.text)
    }

    /// When each role's token was made.
    public func tokenStatus() async -> JoinTokenStatus {
        func created(_ role: String) async -> Date? {
            await manager.metaValue("token.\(role).created").flatMap { ISO8601DateFormatter().date(from: $0) }
        }
        return JoinTokenStatus(worker: await created("worker"), manager: await created("manager"))
    }

    /// Tokens an older version stored in clear become hashes (they keep working).
    private func migrateTokens() async throws {
        for role in ["worker", "manager"] {
            guard let text = await manager.metaValue("token.\(role)") else { continue }
            var changes = ChangeSet()
            if let token = try? JoinToken.parse(text) {
                changes.meta["token.\(role).sha256"] = SecretDigest.sha256(token.secret)
                changes.meta["token.\(role).created"] = ISO8601DateFormatter().string(from: now())
            }
            changes.deletedMeta = ["token.\(role)"]
            try await manager.commitChanges(changes)
        }
    }

    /// The role whose token has this secret, comparing hashes in constant time.
    private func role(forSecret secret: String) async -> PierCluster.NodeRole? {
        let presented = SecretDigest.sha256(secret)
        var found: PierCluster.NodeRole?
        for role in [PierCluster.NodeRole.worker, .manager] {
            guard let stored = await manager.metaValue("token.\(role.rawValue).sha256") else { continue }
            if SecretDigest.equal(stored, presented) { found = role }
        }
        return found
    }

    // MARK: Joining and renewing

    /// Admits a node that shows a valid token: records it and certifies the key of its request.
    public func join(_ request: JoinRequest, address: String?) async throws -> JoinResponse {
        let presented: JoinToken
        do { presented = try JoinToken.parse(request.token) } catch {
            throw ManagerError.unauthorized("join token: \(error)")
        }
        guard presented.pins(caFingerprint: signer.fingerprint) || presented.pins(caFingerprint: current.fingerprint) else {
            throw ManagerError.unauthorized("join token is for another cluster (its CA digest does not match this manager's)")
        }
        guard let role = await role(forSecret: presented.secret) else {
            throw ManagerError.unauthorized("join token is not valid (rotated or mistyped); ask the manager for a new one with `pier join-token worker`")
        }
        let hostname = request.hostname
        guard Identifiers.isValidName(hostname) || hostname.split(separator: ".").allSatisfy({ Identifiers.isValidName(String($0)) }) else {
            throw ManagerError.invalid("hostname: \"\(hostname)\" is not a valid host name")
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateRequest.parseCSR(pem: request.csr) } catch {
            throw ManagerError.invalid("csr: \(error)")
        }
        let nodeID = Identifiers.make()
        let certificate: Certificate
        do {
            certificate = try signer.issue(csr: csr, subject: nodeID, role: role == .manager ? .manager : .worker, validity: nodeValidity, now: now())
        } catch {
            throw ManagerError.invalid("csr: \(error)")
        }
        var changes = ChangeSet()
        changes.meta[Self.nodeCertificatePrefix + nodeID] = try NodeCertificateRecord(certificate, issuer: signer).encoded()
        try await manager.commitChanges(changes)
        _ = try await manager.addNode(id: nodeID, role: role, hostname: hostname)
        return JoinResponse(nodeID: nodeID, certificate: try chainPEM(certificate), caCertificate: try rootsPEM())
    }

    /// A new certificate for the same node, for the key of a fresh request. The role comes from
    /// the cluster's record of the node, never from the certificate it presents.
    public func renew(_ peer: PeerIdentity, csr pem: String) async throws -> JoinResponse {
        guard peer.role.isNode, let node = await manager.node(peer.nodeID), !(await manager.isRemoved(peer.nodeID)) else {
            throw ManagerError.unauthorized("\(peer.nodeID) is not a node of this cluster; only nodes renew their certificates here")
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateRequest.parseCSR(pem: pem) } catch { throw ManagerError.invalid("csr: \(error)") }
        let certificate = try signer.issue(
            csr: csr, subject: peer.nodeID, role: node.role == .manager ? .manager : .worker, validity: nodeValidity, now: now())
        var changes = ChangeSet()
        changes.meta[Self.nodeCertificatePrefix + peer.nodeID] = try NodeCertificateRecord(certificate, issuer: signer).encoded()
        try await manager.commitChanges(changes)
        let response = JoinResponse(nodeID: peer.nodeID, certificate: try chainPEM(certificate), caCertificate: try rootsPEM())
        if next != nil { try await finishRotationIfDone() }
        return response
    }

    /// Why a certificate holder that passed the chain and revocation checks must still be refused
    /// by this manager: a node that was removed or is not a member. Clients are decided by the
    /// revocation list alone.
    public func refusal(for identity: PeerIdentity) async -> String? {
        guard identity.role.isNode else { return nil }
        if await manager.isRemoved(identity.nodeID) { return "node \(identity.nodeID) was removed from the cluster; join it again with a new token" }
        if await manager.node(identity.nodeID) == nil { return "\(identity.nodeID) is not a node of this cluster" }
        return nil
    }

    /// Removes a node: its tasks move, and its certificates go on the revocation list, which every
    /// agent receives and enforces on its direct port.
    public func removeNode(_ ref: String, force: Bool) async throws {
        let node = try await manager.lookupNode(ref)
        try await manager.removeNode(ref, force: force)
        let record = await manager.metaValue(Self.nodeCertificatePrefix + node.id).flatMap(NodeCertificateRecord.decode)
        let expires = record?.notValidAfter ?? now().addingTimeInterval(ClusterCA.maxIssuedValidity)
        try await revoke([RevocationList.Entry(nodeID: node.id, expires: expires, reason: "node \(node.id) was removed from the cluster")])
        var changes = ChangeSet()
        changes.deletedMeta = [Self.nodeCertificatePrefix + node.id]
        try await manager.commitChanges(changes)
        if next != nil { try await finishRotationIfDone() }
    }

    // MARK: Trust pushed to nodes

    /// Sends every node the roots to trust and the revocation list, now and with every later session.
    func publishTrust(renew: Bool) async {
        guard let roots = try? roots.map({ try $0.pemString() }) else { return }
        await manager.setTrust(TrustUpdate(roots: roots, revocations: anchors.revocations, renew: renew))
    }

    func chainPEM(_ certificate: Certificate) throws -> String {
        try ([certificate] + signer.intermediates).map { try $0.pemString() }.joined(separator: "\n")
    }

    func rootsPEM() throws -> String {
        try roots.map { try $0.pemString() }.joined(separator: "\n")
    }
}

/// Which CA issued a node's current certificate, and until when it is valid: what a removal
/// revokes until, and what a CA rotation waits for.
struct NodeCertificateRecord: Codable, Sendable {
    var serialNumber: String
    var notValidAfter: Date
    /// Fingerprint of the issuing CA.
    var issuer: String

    init(_ certificate: Certificate, issuer: ClusterCA) throws {
        serialNumber = try PeerIdentity(certificate: certificate).serialNumber
        notValidAfter = certificate.notValidAfter
        self.issuer = issuer.fingerprint
    }

    func encoded() throws -> String { String(decoding: try JSONResponses.encoder.encode(self), as: UTF8.self) }
    static func decode(_ text: String) -> NodeCertificateRecord? { try? JSONResponses.decoder.decode(Self.self, from: Data(text.utf8)) }
}

extension Manager {
    public func metaValue(_ key: String) -> String? { meta[key] }

    public func setMeta(_ key: String, _ value: String) async throws {
        var changes = ChangeSet()
        changes.meta[key] = value
        try commit(changes)
    }

    public func deleteMeta(_ key: String) async throws {
        var changes = ChangeSet()
        changes.deletedMeta = [key]
        try commit(changes)
    }

    /// Commits several meta changes as one transaction.
    func commitChanges(_ changes: ChangeSet) throws { try commit(changes) }

    /// The values of every key that starts with `prefix`.
    public func metaValues(prefix: String) -> [String] {
        meta.filter { $0.key.hasPrefix(prefix) }.map(\.value)
    }

    /// The node with this id, if it is a member.
    public func node(_ id: String) -> Node? { nodes[id] }

    public func info(caFingerprint: String) -> ClusterInfo {
        ClusterInfo(
            clusterID: clusterID, caFingerprint: caFingerprint, nodes: nodes.count,
            nodesReady: nodes.values.filter { $0.state == .ready }.count, services: services.count,
            tasks: tasks.values.filter { !$0.status.state.isTerminal }.count, version: "0.1.0", notices: notices())
    }
}
