import Foundation
import PierAccess

/// Wire types of the manager's HTTP API (docs/manager-api.md), shared by server and client.

/// `POST /v1/services/{ref}/scale`.
public struct ScaleRequest: Codable, Sendable, Equatable {
    public var replicas: Int
    public init(replicas: Int) { self.replicas = replicas }
}

/// `POST /v1/nodes/{ref}/update`: `pier node update --availability --label-add --label-rm`.
public struct NodeUpdateRequest: Codable, Sendable, Equatable {
    public var availability: NodeAvailability?
    public var labelAdd: [String: String]
    public var labelRemove: [String]
    public init(availability: NodeAvailability? = nil, labelAdd: [String: String] = [:], labelRemove: [String] = []) {
        self.availability = availability; self.labelAdd = labelAdd; self.labelRemove = labelRemove
    }
}

/// `POST /v1/join`: an agent with a join token asks for a node certificate.
public struct JoinRequest: Codable, Sendable, Equatable {
    public var token: String
    /// PEM certificate signing request for the agent's own key.
    public var csr: String
    public var hostname: String
    public init(token: String, csr: String, hostname: String) { self.token = token; self.csr = csr; self.hostname = hostname }
}

public struct JoinResponse: Codable, Sendable, Equatable {
    public var nodeID: String
    /// The PEM node certificate, followed by any intermediate to present beside it (during a CA
    /// rotation, the new CA cross-signed by the old one).
    public var certificate: String
    /// The PEM cluster CA certificates to trust: one, or two during a CA rotation.
    public var caCertificate: String
    public init(nodeID: String, certificate: String, caCertificate: String) {
        self.nodeID = nodeID; self.certificate = certificate; self.caCertificate = caCertificate
    }
}

/// `POST /v1/certificate/renew`: a joined node renews its certificate before it expires.
public struct RenewRequest: Codable, Sendable, Equatable {
    public var csr: String
    public init(csr: String) { self.csr = csr }
}

/// `POST /v1/join-tokens/rotate?role=worker`: a new join token for a role, shown this once. The
/// manager keeps only its hash; the previous token of that role no longer admits anyone.
public struct JoinTokenIssued: Codable, Sendable, Equatable {
    public var role: NodeRole
    public var token: String
    public init(role: NodeRole, token: String) { self.role = role; self.token = token }
}

/// `GET /v1/join-tokens`: when each role's token was made (tokens themselves are never shown again).
public struct JoinTokenStatus: Codable, Sendable, Equatable {
    public var worker: Date?
    public var manager: Date?
    public init(worker: Date? = nil, manager: Date? = nil) { self.worker = worker; self.manager = manager }
}

/// `POST /v1/stacks/{name}`: a compose file deployed as a stack.
public struct StackDeployRequest: Codable, Sendable, Equatable {
    public var compose: String
    /// Values for `${VAR}` in the file (the client's environment).
    public var environment: [String: String]
    /// The compose file's directory, for relative bind-mount paths.
    public var directory: String?
    public init(compose: String, environment: [String: String] = [:], directory: String? = nil) {
        self.compose = compose; self.environment = environment; self.directory = directory
    }
}

/// What a stack deploy did to each service.
public struct StackDeployResult: Codable, Sendable, Equatable {
    public var created: [String]
    public var updated: [String]
    public var unchanged: [String]
    /// What the compose file asks for that Pier serves differently (`endpoint_mode: vip`).
    public var warnings: [String]
    public init(created: [String] = [], updated: [String] = [], unchanged: [String] = [], warnings: [String] = []) {
        self.created = created; self.updated = updated; self.unchanged = unchanged; self.warnings = warnings
    }

    private enum CodingKeys: String, CodingKey { case created, updated, unchanged, warnings }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            created: try c.decode([String].self, forKey: .created), updated: try c.decode([String].self, forKey: .updated),
            unchanged: try c.decode([String].self, forKey: .unchanged), warnings: try c.decodeIfPresent([String].self, forKey: .warnings) ?? [])
    }
}

/// One line of `pier stack ls`.
public struct StackSummary: Codable, Sendable, Equatable {
    public var name: String
    public var services: Int
    public init(name: String, services: Int) { self.name = name; self.services = services }
}

/// `GET /v1/cluster`.
public struct ClusterInfo: Codable, Sendable, Equatable {
    public var clusterID: String
    public var caFingerprint: String
    public var nodes: Int
    public var nodesReady: Int
    public var services: Int
    public var tasks: Int
    public var version: String
    /// Why the manager cannot use its state, when it cannot (degraded: it changes nothing and
    /// refuses every other request until `pier manager recover`).
    public var degraded: String?
    /// Stored records set aside (they cannot be read or fail the checks of a create), with the reason.
    public var notices: [String]?
    public init(clusterID: String, caFingerprint: String, nodes: Int, nodesReady: Int, services: Int, tasks: Int, version: String,
                degraded: String? = nil, notices: [String]? = nil) {
        self.clusterID = clusterID; self.caFingerprint = caFingerprint; self.nodes = nodes; self.nodesReady = nodesReady
        self.services = services; self.tasks = tasks; self.version = version; self.degraded = degraded; self.notices = notices
    }
}

/// The label that marks a service as part of a stack.
public let stackNamespaceLabel = "pier.stack.namespace"

extension NodeUpdateRequest {
    private enum CodingKeys: String, CodingKey { case availability, labelAdd, labelRemove }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            availability: try c.decodeIfPresent(NodeAvailability.self, forKey: .availability),
            labelAdd: try c.decodeIfPresent([String: String].self, forKey: .labelAdd) ?? [:],
            labelRemove: try c.decodeIfPresent([String].self, forKey: .labelRemove) ?? [])
    }
}

/// `POST /v1/certificates`: a client certificate for a person or a tool (`pier cert create`), for
/// the key of a request made on the client (the key never leaves it). The role is `admin`,
/// `operator` or `readonly`; the certificate is good for `expiresIn` seconds.
public struct ClientCertificateRequest: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// PEM certificate signing request.
    public var csr: String
    public var expiresIn: Int
    public init(name: String, role: Role, csr: String, expiresIn: Int) {
        self.name = name; self.role = role; self.csr = csr; self.expiresIn = expiresIn
    }
}

/// The issued client certificate (PEM, followed by any intermediate) and the cluster CA(s).
public struct ClientCertificate: Codable, Sendable, Equatable {
    public var certificate: String
    public var caCertificate: String
    public var info: ClientCertificateInfo
    public init(certificate: String, caCertificate: String, info: ClientCertificateInfo) {
        self.certificate = certificate; self.caCertificate = caCertificate; self.info = info
    }
}

/// One issued client certificate, as `pier cert ls` lists it.
public struct ClientCertificateInfo: Codable, Sendable, Equatable {
    public var name: String
    public var role: Role
    /// The serial number, lowercase hex.
    public var serial: String
    public var issuedAt: Date
    public var expiresAt: Date
    public var revoked: Bool
    public init(name: String, role: Role, serial: String, issuedAt: Date, expiresAt: Date, revoked: Bool = false) {
        self.name = name; self.role = role; self.serial = serial; self.issuedAt = issuedAt
        self.expiresAt = expiresAt; self.revoked = revoked
    }
}

/// `POST /v1/certificates/revoke`: every certificate of a client name, or one by serial number.
public struct RevokeRequest: Codable, Sendable, Equatable {
    /// A client name (every certificate issued under it) or a serial number.
    public var target: String
    public init(target: String) { self.target = target }
}

/// `GET /v1/ca`: the cluster CA, and the rotation under way if any.
public struct CAStatus: Codable, Sendable, Equatable {
    /// SHA-256 of the CA certificate nodes and clients move to (the current one when no
    /// rotation is under way), lowercase hex: what join tokens pin.
    public var fingerprint: String
    public var rotation: Rotation?

    public struct Rotation: Codable, Sendable, Equatable {
        /// The CA being replaced.
        public var from: String
        public var startedAt: Date
        /// Nodes whose certificate the new CA issued and that trust it, of all nodes.
        public var nodesMoved: Int
        public var nodesTotal: Int
        /// Hostnames of the nodes not moved yet.
        public var pending: [String]
        public init(from: String, startedAt: Date, nodesMoved: Int, nodesTotal: Int, pending: [String]) {
            self.from = from; self.startedAt = startedAt; self.nodesMoved = nodesMoved; self.nodesTotal = nodesTotal; self.pending = pending
        }
    }

    public init(fingerprint: String, rotation: Rotation? = nil) { self.fingerprint = fingerprint; self.rotation = rotation }
}

/// `POST /v1/registry/credentials`: a credential for the manager's registry, for clients that
/// have no cluster certificate (`docker login`, `skopeo --creds`, `pier image pull --creds`).
public struct RegistryCredentialRequest: Codable, Sendable, Equatable {
    /// The user name it is presented with.
    public var name: String
    /// Push and delete too; otherwise pull only.
    public var push: Bool
    /// Seconds until it stops working; nil: until removed.
    public var expiresIn: Int?

    public init(name: String, push: Bool = false, expiresIn: Int? = nil) {
        self.name = name; self.push = push; self.expiresIn = expiresIn
    }
}

/// A registry credential as listed (never with its secret).
public struct RegistryCredentialInfo: Codable, Sendable, Equatable {
    public var name: String
    /// `pull` or `push` (push includes pull and delete).
    public var access: String
    public var createdAt: Date
    public var expiresAt: Date?

    public init(name: String, access: String, createdAt: Date, expiresAt: Date?) {
        self.name = name; self.access = access; self.createdAt = createdAt; self.expiresAt = expiresAt
    }
}

/// The answer to a create: the secret, shown this once (the manager keeps only its digest).
public struct RegistryCredentialCreated: Codable, Sendable, Equatable {
    public var credential: RegistryCredentialInfo
    public var secret: String

    public init(credential: RegistryCredentialInfo, secret: String) { self.credential = credential; self.secret = secret }
}
