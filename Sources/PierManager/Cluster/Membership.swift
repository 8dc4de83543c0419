import Foundation
import PierCluster
import PierPKI
import X509

/// Who may join and with what: the cluster CA, the join tokens (secrets kept in the state
/// store), node certificates issued at join and renewed before they expire.
public actor Membership {
    public let ca: ClusterCA
    let manager: Manager
    /// Validity of issued node certificates; short in tests to exercise rotation.
    let nodeValidity: TimeInterval

    public nonisolated var caFingerprint: String { ca.fingerprint }

    public init(ca: ClusterCA, manager: Manager, nodeValidity: TimeInterval = ClusterCA.defaultNodeValidity) {
        self.ca = ca
        self.manager = manager
        self.nodeValidity = nodeValidity
    }

    /// The current worker and manager tokens, made on first use.
    public func tokens() async throws -> JoinTokens {
        JoinTokens(worker: try await token(for: .worker).text, manager: try await token(for: .manager).text)
    }

    func token(for role: PierPKI.NodeRole) async throws -> JoinToken {
        let key = "token.\(role.rawValue)"
        if let text = await manager.metaValue(key), let t = try? JoinToken.parse(text), t.pins(caFingerprint: ca.fingerprint) {
            return t
        }
        let t = try JoinToken.generate(caFingerprint: ca.fingerprint)
        try await manager.setMeta(key, t.text)
        return t
    }

    /// Replaces a role's token: nodes that joined stay; the old token no longer admits anyone.
    public func rotateToken(role: String) async throws -> JoinTokens {
        guard let r = PierPKI.NodeRole(rawValue: role) else {
            throw ManagerError.invalid("role \"\(role)\": expected worker or manager")
        }
        try await manager.setMeta("token.\(r.rawValue)", try JoinToken.generate(caFingerprint: ca.fingerprint).text)
        return try await tokens()
    }

    /// Admits a node that shows a valid token: records it and certifies the key of its request.
    public func join(_ request: JoinRequest, address: String?) async throws -> JoinResponse {
        let presented: JoinToken
        do { presented = try JoinToken.parse(request.token) } catch {
            throw ManagerError.unauthorized("join token: \(error)")
        }
        guard presented.pins(caFingerprint: ca.fingerprint) else {
            throw ManagerError.unauthorized("join token is for another cluster (its CA digest does not match this manager's)")
        }
        let role: PierPKI.NodeRole
        if presented.secretMatches(try await token(for: .worker)) {
            role = .worker
        } else if presented.secretMatches(try await token(for: .manager)) {
            role = .manager
        } else {
            throw ManagerError.unauthorized("join token is not valid (rotated or mistyped); ask the manager for the current one with `pier join-token worker`")
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
            certificate = try ca.issue(csr: csr, nodeID: nodeID, role: role, dnsNames: [], validity: nodeValidity)
        } catch {
            throw ManagerError.invalid("csr: \(error)")
        }
        _ = try await manager.addNode(id: nodeID, role: role == .manager ? .manager : .worker, hostname: hostname)
        return JoinResponse(nodeID: nodeID, certificate: try certificate.pemString(), caCertificate: try ca.certificate.pemString())
    }

    /// A certificate and key for a client (an operator's CLI, a script): subject `client-NAME`,
    /// never a node id, so it cannot open an agent session.
    public func issueClientCertificate(_ request: ClientCertificateRequest) throws -> ClientCertificate {
        guard Identifiers.isValidName(request.name) else {
            throw ManagerError.invalid("name: \"\(request.name)\" must be letters, digits, '-' and '_' (up to 63)")
        }
        let identity = try ca.issueIdentity(
            nodeID: "client-" + request.name, role: request.role == .manager ? .manager : .worker, validity: nodeValidity)
        return ClientCertificate(
            certificate: try identity.certificate.pemString(), key: identity.privateKeyPEM,
            caCertificate: try ca.certificate.pemString())
    }

    /// A new certificate for the same node and role, for the key of a fresh request.
    public func renew(_ peer: PeerIdentity, csr pem: String) async throws -> JoinResponse {
        guard await manager.isMember(peer.nodeID), !(await manager.isRemoved(peer.nodeID)) else {
            throw ManagerError.unauthorized("node \(peer.nodeID) is not a member of this cluster")
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateRequest.parseCSR(pem: pem) } catch { throw ManagerError.invalid("csr: \(error)") }
        let certificate = try ca.issue(csr: csr, nodeID: peer.nodeID, role: peer.role, validity: nodeValidity)
        return JoinResponse(nodeID: peer.nodeID, certificate: try certificate.pemString(), caCertificate: try ca.certificate.pemString())
    }
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

    /// The values of every key that starts with `prefix`.
    public func metaValues(prefix: String) -> [String] {
        meta.filter { $0.key.hasPrefix(prefix) }.map(\.value)
    }

    public func info(caFingerprint: String) -> ClusterInfo {
        ClusterInfo(
            clusterID: clusterID, caFingerprint: caFingerprint, nodes: nodes.count,
            nodesReady: nodes.values.filter { $0.state == .ready }.count, services: services.count,
            tasks: tasks.values.filter { !$0.status.state.isTerminal }.count, version: "0.1.0")
    }
}
