import Foundation

/// `runc state` / `runc list --format json` output for one container.
public struct RuncState: Codable, Sendable, Equatable {
    public var ociVersion: String?
    public var id: String
    /// Host pid of the container's init (0 when stopped).
    public var pid: Int32
    /// `created`, `running`, `paused` or `stopped`.
    public var status: String
    public var bundle: String
    public var rootfs: String?
    public var created: String?

    public init(
        ociVersion: String? = nil, id: String, pid: Int32, status: String, bundle: String,
        rootfs: String? = nil, created: String? = nil
    ) {
        self.ociVersion = ociVersion; self.id = id; self.pid = pid; self.status = status
        self.bundle = bundle; self.rootfs = rootfs; self.created = created
    }
}
