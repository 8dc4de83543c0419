import Foundation

/// One line of `pier image ls` (`GET /v1/images`).
public struct ImageSummary: Codable, Sendable, Equatable {
    /// Tags pointing at this image, e.g. `sensor:1.0`.
    public var tags: [String]
    /// Digest of the manifest (the image id).
    public var digest: String
    public var platform: String
    /// Compressed bytes of the manifest, config and layers.
    public var size: Int64
    /// Bytes of layers this image shares with at least one other image in the store.
    public var sharedSize: Int64
    public var layers: Int
    public var created: Date?

    public init(tags: [String], digest: String, platform: String, size: Int64, sharedSize: Int64, layers: Int, created: Date?) {
        self.tags = tags; self.digest = digest; self.platform = platform; self.size = size
        self.sharedSize = sharedSize; self.layers = layers; self.created = created
    }
}

/// `pier image inspect` (`GET /v1/images/{ref}`).
public struct ImageDetails: Codable, Sendable, Equatable {
    public var summary: ImageSummary
    public var manifestMediaType: String
    public var configDigest: String
    public var layerDigests: [String]
    public var diffIDs: [String]
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var env: [String]
    public var workdir: String?
    public var user: String?
    public var labels: [String: String]

    public init(summary: ImageSummary, manifestMediaType: String, configDigest: String, layerDigests: [String],
                diffIDs: [String], entrypoint: [String]?, cmd: [String]?, env: [String], workdir: String?,
                user: String?, labels: [String: String]) {
        self.summary = summary; self.manifestMediaType = manifestMediaType; self.configDigest = configDigest
        self.layerDigests = layerDigests; self.diffIDs = diffIDs; self.entrypoint = entrypoint; self.cmd = cmd
        self.env = env; self.workdir = workdir; self.user = user; self.labels = labels
    }
}

/// An image brought in by `pier image import` or `pier image build`.
public struct ImportedImage: Codable, Sendable, Equatable {
    public var name: String?
    public var digest: String
    public init(name: String?, digest: String) { self.name = name; self.digest = digest }
}

/// What `pier image prune` (garbage collection) removed.
public struct PruneReport: Codable, Sendable, Equatable {
    public var removedImages: [String]
    public var removedBlobs: Int
    public var removedLayers: Int
    public var reclaimedBytes: Int64
    public init(removedImages: [String], removedBlobs: Int, removedLayers: Int, reclaimedBytes: Int64) {
        self.removedImages = removedImages; self.removedBlobs = removedBlobs
        self.removedLayers = removedLayers; self.reclaimedBytes = reclaimedBytes
    }
}

/// Disk use of the image store (`GET /v1/system/df`): what is stored once, what is shared.
public struct DiskUsage: Codable, Sendable, Equatable {
    public var images: [ImageSummary]
    /// Bytes of distinct blobs in the content store (each stored once).
    public var contentStoreBytes: Int64
    /// Bytes of unpacked layers on disk (each diff id unpacked once).
    public var unpackedLayerBytes: Int64
    /// What the images would take if nothing were shared.
    public var unsharedTotalBytes: Int64
    public init(images: [ImageSummary], contentStoreBytes: Int64, unpackedLayerBytes: Int64, unsharedTotalBytes: Int64) {
        self.images = images; self.contentStoreBytes = contentStoreBytes
        self.unpackedLayerBytes = unpackedLayerBytes; self.unsharedTotalBytes = unsharedTotalBytes
    }
}

/// `GET /v1/info`.
public struct AgentInfo: Codable, Sendable, Equatable {
    public var version: String
    public var hostname: String
    public var dataRoot: String
    public var runtime: String
    public var os: String
    public var architecture: String
    public var cpus: Int
    public var memoryBytes: UInt64
    public var containers: Int
    public var running: Int
    public var images: Int
    /// The bridge network (absent from agents before it was reported).
    public var network: NetworkInfo?
    /// Seccomp, cgroup namespaces, AppArmor on this node (absent from agents before it was reported).
    public var isolation: NodeIsolation?
    /// Why the agent cannot use its state, when it cannot (degraded: it manages no container
    /// until `pier agent recover`).
    public var degraded: String?
    /// What needs attention besides: containers set aside, container directories without a record.
    public var notices: [String]?
    public init(version: String, hostname: String, dataRoot: String, runtime: String, os: String, architecture: String,
                cpus: Int, memoryBytes: UInt64, containers: Int, running: Int, images: Int, network: NetworkInfo? = nil,
                isolation: NodeIsolation? = nil, degraded: String? = nil, notices: [String]? = nil) {
        self.version = version; self.hostname = hostname; self.dataRoot = dataRoot; self.runtime = runtime; self.os = os
        self.architecture = architecture; self.cpus = cpus; self.memoryBytes = memoryBytes
        self.containers = containers; self.running = running; self.images = images; self.network = network
        self.isolation = isolation; self.degraded = degraded; self.notices = notices
    }
}

/// The bridge `--network bridge` containers join, and the namespaces kept connected to it ahead
/// of need (`--network-pool`), in `AgentInfo`.
public struct NetworkInfo: Codable, Sendable, Equatable {
    public var bridge: String
    public var subnet: String
    /// How many the pool keeps (0: no pool).
    public var poolSize: Int
    /// How many are connected and ready now.
    public var pooled: Int
    public init(bridge: String, subnet: String, poolSize: Int, pooled: Int) {
        self.bridge = bridge; self.subnet = subnet; self.poolSize = poolSize; self.pooled = pooled
    }
}

/// Body of every error answer: `{"message": "…"}` with a 4xx or 5xx status.
public struct APIError: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `POST /v1/images/pull` and `POST /v1/images/push`: a transfer between the node's image store
/// and a registry, made by the daemon (as dockerd does it).
public struct RegistryTransferRequest: Codable, Sendable, Equatable {
    /// The image on the registry, `HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]` (a push needs a tag).
    public var remote: String
    /// A push: the stored image to send (default: `remote` itself, as `docker push NAME`).
    public var local: String?
    /// Plain HTTP, for a registry on loopback or a trusted link.
    public var insecure: Bool
    /// A directory the daemon can read with `ca.pem`, and `node.pem` and `node-key.pem` for
    /// mutual TLS (what `pier cert create` writes); `ca.pem` alone only trusts that CA. Without it
    /// a joined node uses its own cluster certificate for the manager's registry, and the
    /// system's trust store for any other.
    public var certDirectory: String?
    /// A pull: download changed layers whole instead of as deltas against layers the store has.
    public var noDelta: Bool
    /// `USER:PASSWORD` for the registry (a Pier registry credential's name and secret), sent to
    /// its token endpoint or as Basic auth when it asks; nil: anonymous.
    public var credentials: String?

    public init(remote: String, local: String? = nil, insecure: Bool = false, certDirectory: String? = nil, noDelta: Bool = false,
                credentials: String? = nil) {
        self.remote = remote; self.local = local; self.insecure = insecure; self.certDirectory = certDirectory
        self.noDelta = noDelta; self.credentials = credentials
    }

    private enum CodingKeys: String, CodingKey { case remote, local, insecure, certDirectory, noDelta, credentials }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            remote: try c.decode(String.self, forKey: .remote), local: try c.decodeIfPresent(String.self, forKey: .local),
            insecure: try c.decodeIfPresent(Bool.self, forKey: .insecure) ?? false,
            certDirectory: try c.decodeIfPresent(String.self, forKey: .certDirectory),
            noDelta: try c.decodeIfPresent(Bool.self, forKey: .noDelta) ?? false,
            credentials: try c.decodeIfPresent(String.self, forKey: .credentials))
    }
}

/// What a pull or push moved.
public struct RegistryTransferResult: Codable, Sendable, Equatable {
    /// The image as named in the store (a pull) or on the registry (a push).
    public var reference: String
    /// The manifest (or index) digest.
    public var digest: String
    /// Blobs sent or received; the others were there already.
    public var blobs: Int
    public var bytes: Int64
    /// A pull: blobs rebuilt from a delta against a layer the store had (counted in `blobs`).
    public var deltas: Int

    public init(reference: String, digest: String, blobs: Int, bytes: Int64, deltas: Int = 0) {
        self.reference = reference; self.digest = digest; self.blobs = blobs; self.bytes = bytes; self.deltas = deltas
    }
}

/// `POST /v1/images/{ref}/signatures`: the signature artifact stored.
public struct SignatureStored: Codable, Sendable, Equatable {
    /// The digest of the signature artifact's manifest.
    public var digest: String
    public init(digest: String) { self.digest = digest }
}

/// `POST /v1/images/du`: what installing or updating a set of images downloads (seed 001's
/// absolute versus incremental download cost), from the blobs the store holds.
public struct DownloadAnalysisRequest: Codable, Sendable, Equatable {
    /// The images to install, or to update to.
    public var images: [String]
    /// The images a device already has (an update from these); empty for a fresh install.
    public var from: [String]
    /// Also work out what the update downloads with Pier's delta updates.
    public var deltas: Bool

    public init(images: [String], from: [String] = [], deltas: Bool = false) {
        self.images = images; self.from = from; self.deltas = deltas
    }
}

public struct DownloadAnalysis: Codable, Sendable, Equatable {
    public struct Image: Codable, Sendable, Equatable {
        public var name: String
        public var digest: String
        /// Manifest, config and layers.
        public var bytes: Int64
        /// Of those, blobs no other image of the set has.
        public var uniqueBytes: Int64
        public init(name: String, digest: String, bytes: Int64, uniqueBytes: Int64) {
            self.name = name; self.digest = digest; self.bytes = bytes; self.uniqueBytes = uniqueBytes
        }
    }
    public var images: [Image]
    /// A fresh install of the set: every distinct blob once.
    public var installBytes: Int64
    /// The same if nothing were shared: each image on its own.
    public var separateBytes: Int64
    /// An update from `from`: the blobs of the set that `from` lacks, layers whole (what Docker downloads).
    public var updateBytes: Int64?
    /// The same with delta updates: changed layers as patches against the layer of `from` at the
    /// same position, where smaller.
    public var deltaBytes: Int64?
    /// Layers that would come as deltas.
    public var deltaLayers: Int?

    public init(images: [Image], installBytes: Int64, separateBytes: Int64, updateBytes: Int64? = nil,
                deltaBytes: Int64? = nil, deltaLayers: Int? = nil) {
        self.images = images; self.installBytes = installBytes; self.separateBytes = separateBytes
        self.updateBytes = updateBytes; self.deltaBytes = deltaBytes; self.deltaLayers = deltaLayers
    }
}
