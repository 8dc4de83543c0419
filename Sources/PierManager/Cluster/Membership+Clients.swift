import Foundation
import PierAccess
import PierCluster
import PierPKI
import X509

extension Membership {
    /// The shortest and longest life of a client certificate.
    static let clientValidity: ClosedRange<Int> = 60...(366 * 86400)

    /// Certifies the key of a client's request (`pier cert create`): subject `client-NAME`, the
    /// role asked for (admin, operator or readonly), good for TLS clients only. The certificate is
    /// recorded, so `pier cert ls` lists it and `pier cert revoke` can withdraw it.
    public func issueClientCertificate(_ request: ClientCertificateRequest) async throws -> ClientCertificate {
        guard Identifiers.isValidName(request.name) else {
            throw ManagerError.invalid("name: \"\(request.name)\" must be letters, digits, '-' and '_' (up to 63)")
        }
        guard !request.role.isNode else {
            throw ManagerError.invalid("role: \(request.role) is a node's role; a client is admin, operator or readonly (nodes join with a token)")
        }
        guard Self.clientValidity.contains(request.expiresIn) else {
            throw ManagerError.invalid("expiresIn: \(request.expiresIn) s is outside \(Self.clientValidity.lowerBound) s to 366 days")
        }
        let csr: CertificateSigningRequest
        do { csr = try CertificateRequest.parseCSR(pem: request.csr) } catch { throw ManagerError.invalid("csr: \(error)") }
        let issued = now()
        let certificate: Certificate
        do {
            certificate = try signer.issue(
                csr: csr, subject: "client-" + request.name, role: request.role, validity: TimeInterval(request.expiresIn), now: issued)
        } catch {
            throw ManagerError.invalid("csr: \(error)")
        }
        let info = ClientCertificateInfo(
            name: request.name, role: request.role, serial: try PeerIdentity(certificate: certificate).serialNumber,
            issuedAt: issued, expiresAt: certificate.notValidAfter)
        var changes = ChangeSet()
        changes.meta[Self.clientPrefix + info.serial] = String(decoding: try JSONResponses.encoder.encode(info), as: UTF8.self)
        try await manager.commitChanges(changes)
        return ClientCertificate(certificate: try chainPEM(certificate), caCertificate: try rootsPEM(), info: info)
    }

    /// Every client certificate issued and not yet expired, newest first.
    public func clientCertificates() async -> [ClientCertificateInfo] {
        let date = now()
        let revoked = anchors.revocations
        return await manager.metaValues(prefix: Self.clientPrefix)
            .compactMap { try? JSONResponses.decoder.decode(ClientCertificateInfo.self, from: Data($0.utf8)) }
            .filter { $0.expiresAt > date }
            .map { info in
                var info = info
                info.revoked = revoked.entry(refusingSubject: "client-" + info.name, serialNumber: info.serial) != nil
                return info
            }
            .sorted { ($0.issuedAt, $0.serial) > ($1.issuedAt, $1.serial) }
    }

    /// `pier cert revoke NAME|SERIAL`: every unexpired certificate of a client name, or one by
    /// serial number, goes on the revocation list. The manager refuses them at once; agents once
    /// the list reaches them (at once over a live session, else when they reconnect).
    public func revokeClient(_ target: String) async throws -> [ClientCertificateInfo] {
        let all = await clientCertificates()
        let serial = target.lowercased()
        let matched = all.filter { $0.name == target || $0.serial == serial }
        guard !matched.isEmpty else {
            throw ManagerError.notFound("no unexpired client certificate is named or numbered \(target) (pier cert ls lists them; nodes are removed with pier node rm)")
        }
        try await revoke(matched.map {
            RevocationList.Entry(serialNumber: $0.serial, expires: $0.expiresAt, reason: "client certificate \($0.name) (\($0.serial)) was revoked")
        })
        return matched.map { var info = $0; info.revoked = true; return info }
    }

    /// Adds entries to the revocation list, stores it, and sends it to every node.
    func revoke(_ entries: [RevocationList.Entry]) async throws {
        var list = anchors.revocations.pruned(now: now())
        list.add(entries)
        try await storeRevocations(list)
    }

    func storeRevocations(_ list: RevocationList) async throws {
        var changes = ChangeSet()
        changes.meta[Self.revocationsKey] = String(decoding: try JSONResponses.encoder.encode(list), as: UTF8.self)
        try await manager.commitChanges(changes)
        anchors.setRevocations(list)
        await publishTrust(renew: next != nil)
    }

    /// The stored list. One that does not decode stops the manager: read as empty, it would let
    /// every revoked certificate back in.
    static func storedRevocations(_ manager: Manager) async throws -> RevocationList {
        guard let text = await manager.metaValue(revocationsKey) else { return RevocationList() }
        do { return try JSONResponses.decoder.decode(RevocationList.self, from: Data(text.utf8)) } catch {
            throw ManagerError.failed("the revocation list in the state store is unreadable (\(error)); refusing to start rather than accept revoked certificates")
        }
    }
}
