import PierSpec
import Foundation

/// An OCI runtime-spec v1.0.2 `config.json` — the fields Pier uses, with the spec's JSON names.
/// Optional fields that are nil are left out of the JSON.
public struct RuntimeSpec: Codable, Sendable, Equatable {
    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var mounts: [Mount]?
    public var linux: Linux?
    public var annotations: [String: String]?

    public init(
        ociVersion: String = "1.0.2", process: Process? = nil, root: Root? = nil, hostname: String? = nil,
        mounts: [Mount]? = nil, linux: Linux? = nil, annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion; self.process = process; self.root = root; self.hostname = hostname
        self.mounts = mounts; self.linux = linux; self.annotations = annotations
    }

    /// runtime-spec `process`.
    public struct Process: Codable, Sendable, Equatable {
        public var terminal: Bool?
        public var user: User
        public var args: [String]
        public var env: [String]?
        public var cwd: String
        public var capabilities: Capabilities?
        public var rlimits: [Rlimit]?
        public var noNewPrivileges: Bool?
        public var oomScoreAdj: Int?
        /// An AppArmor profile to run under (only where the kernel has AppArmor: runc fails otherwise).
        public var apparmorProfile: String?

        public init(
            terminal: Bool? = false, user: User = User(), args: [String], env: [String]? = nil, cwd: String = "/",
            capabilities: Capabilities? = nil, rlimits: [Rlimit]? = nil, noNewPrivileges: Bool? = nil,
            oomScoreAdj: Int? = nil, apparmorProfile: String? = nil
        ) {
            self.terminal = terminal; self.user = user; self.args = args; self.env = env; self.cwd = cwd
            self.capabilities = capabilities; self.rlimits = rlimits; self.noNewPrivileges = noNewPrivileges
            self.oomScoreAdj = oomScoreAdj; self.apparmorProfile = apparmorProfile
        }
    }

    /// runtime-spec `process.user` (POSIX).
    public struct User: Codable, Sendable, Equatable {
        public var uid: UInt32
        public var gid: UInt32
        public var umask: UInt32?
        public var additionalGids: [UInt32]?

        public init(uid: UInt32 = 0, gid: UInt32 = 0, umask: UInt32? = nil, additionalGids: [UInt32]? = nil) {
            self.uid = uid; self.gid = gid; self.umask = umask; self.additionalGids = additionalGids
        }
    }

    /// runtime-spec `process.capabilities`.
    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]?
        public var effective: [String]?
        public var inheritable: [String]?
        public var permitted: [String]?
        public var ambient: [String]?

        public init(
            bounding: [String]? = nil, effective: [String]? = nil, inheritable: [String]? = nil,
            permitted: [String]? = nil, ambient: [String]? = nil
        ) {
            self.bounding = bounding; self.effective = effective; self.inheritable = inheritable
            self.permitted = permitted; self.ambient = ambient
        }
    }

    /// runtime-spec `process.rlimits[]`.
    public struct Rlimit: Codable, Sendable, Equatable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64

        public init(type: String, hard: UInt64, soft: UInt64) {
            self.type = type; self.hard = hard; self.soft = soft
        }
    }

    /// runtime-spec `root`.
    public struct Root: Codable, Sendable, Equatable {
        public var path: String
        public var readonly: Bool?

        public init(path: String, readonly: Bool? = nil) {
            self.path = path; self.readonly = readonly
        }
    }

    /// runtime-spec `mounts[]`.
    public struct Mount: Codable, Sendable, Equatable {
        public var destination: String
        public var type: String?
        public var source: String?
        public var options: [String]?

        public init(destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil) {
            self.destination = destination; self.type = type; self.source = source; self.options = options
        }
    }

    /// Encodes as `config.json` (sorted keys, so equal specs give equal files).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// Writes `config.json` into `bundle` atomically.
    public func write(toBundle bundle: URL) throws {
        try SystemCalls.writeAtomically(try encoded(), to: bundle.appendingPathComponent("config.json"), durable: false)
    }

    /// Reads a bundle's `config.json`.
    public static func read(fromBundle bundle: URL) throws -> RuntimeSpec {
        let url = bundle.appendingPathComponent("config.json")
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(RuntimeSpec.self, from: data)
    }
}
