extension RuntimeSpec {
    /// runtime-spec `linux` (config-linux.md).
    public struct Linux: Codable, Sendable, Equatable {
        public var namespaces: [Namespace]?
        public var devices: [Device]?
        public var cgroupsPath: String?
        public var resources: Resources?
        public var maskedPaths: [String]?
        public var readonlyPaths: [String]?
        public var sysctl: [String: String]?
        public var seccomp: Seccomp?
        /// With a `user` namespace: container ids → host ids.
        public var uidMappings: [IDMap]?
        public var gidMappings: [IDMap]?

        public init(
            namespaces: [Namespace]? = nil, devices: [Device]? = nil, cgroupsPath: String? = nil,
            resources: Resources? = nil, maskedPaths: [String]? = nil, readonlyPaths: [String]? = nil,
            sysctl: [String: String]? = nil, seccomp: Seccomp? = nil, uidMappings: [IDMap]? = nil,
            gidMappings: [IDMap]? = nil
        ) {
            self.namespaces = namespaces; self.devices = devices; self.cgroupsPath = cgroupsPath
            self.resources = resources; self.maskedPaths = maskedPaths; self.readonlyPaths = readonlyPaths
            self.sysctl = sysctl; self.seccomp = seccomp; self.uidMappings = uidMappings; self.gidMappings = gidMappings
        }
    }

    /// runtime-spec `linux.uidMappings[]` / `gidMappings[]`.
    public struct IDMap: Codable, Sendable, Equatable {
        public var containerID: UInt32
        public var hostID: UInt32
        public var size: UInt32

        public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
            self.containerID = containerID; self.hostID = hostID; self.size = size
        }
    }

    /// runtime-spec `linux.namespaces[]`: `type` is pid, network, mount, ipc, uts, user or cgroup;
    /// `path` joins an existing namespace instead of creating one.
    public struct Namespace: Codable, Sendable, Equatable {
        public var type: String
        public var path: String?

        public init(type: String, path: String? = nil) {
            self.type = type; self.path = path
        }
    }

    /// runtime-spec `linux.devices[]`: a device node runc creates in the container's /dev.
    public struct Device: Codable, Sendable, Equatable {
        public var path: String
        public var type: String
        public var major: Int64
        public var minor: Int64
        public var fileMode: UInt32?
        public var uid: UInt32?
        public var gid: UInt32?

        public init(
            path: String, type: String, major: Int64, minor: Int64, fileMode: UInt32? = nil,
            uid: UInt32? = nil, gid: UInt32? = nil
        ) {
            self.path = path; self.type = type; self.major = major; self.minor = minor
            self.fileMode = fileMode; self.uid = uid; self.gid = gid
        }
    }

    /// runtime-spec `linux.resources`.
    public struct Resources: Codable, Sendable, Equatable {
        public var devices: [DeviceRule]?
        public var memory: Memory?
        public var cpu: CPU?
        public var pids: Pids?

        public init(devices: [DeviceRule]? = nil, memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil) {
            self.devices = devices; self.memory = memory; self.cpu = cpu; self.pids = pids
        }
    }

    /// runtime-spec `linux.resources.devices[]`: one device cgroup rule. Nil major/minor is `*`.
    public struct DeviceRule: Codable, Sendable, Equatable {
        public var allow: Bool
        /// `a` (all), `c` or `b`.
        public var type: String?
        public var major: Int64?
        public var minor: Int64?
        /// Combination of `r`, `w`, `m`.
        public var access: String?

        public init(allow: Bool, type: String? = nil, major: Int64? = nil, minor: Int64? = nil, access: String? = nil) {
            self.allow = allow; self.type = type; self.major = major; self.minor = minor; self.access = access
        }
    }

    /// runtime-spec `linux.resources.memory` (bytes; `swap` is memory plus swap).
    public struct Memory: Codable, Sendable, Equatable {
        public var limit: Int64?
        public var reservation: Int64?
        public var swap: Int64?

        public init(limit: Int64? = nil, reservation: Int64? = nil, swap: Int64? = nil) {
            self.limit = limit; self.reservation = reservation; self.swap = swap
        }
    }

    /// runtime-spec `linux.resources.cpu` (CFS quota and period in microseconds).
    public struct CPU: Codable, Sendable, Equatable {
        public var shares: UInt64?
        public var quota: Int64?
        public var period: UInt64?

        public init(shares: UInt64? = nil, quota: Int64? = nil, period: UInt64? = nil) {
            self.shares = shares; self.quota = quota; self.period = period
        }
    }

    /// runtime-spec `linux.resources.pids`.
    public struct Pids: Codable, Sendable, Equatable {
        public var limit: Int64

        public init(limit: Int64) { self.limit = limit }
    }
}
