/// A container's place on the bridge network, from the CNI result.
public struct NetworkAttachment: Sendable, Equatable, Codable {
    /// Path of the network namespace runc joins (`/run/netns/pier-<id prefix>`).
    public var namespacePath: String
    public var ipAddress: String
    public var prefixLength: Int
    public var gateway: String?
    /// The host end of the container's veth pair.
    public var hostInterface: String?
    public var macAddress: String?

    public init(
        namespacePath: String, ipAddress: String, prefixLength: Int, gateway: String? = nil,
        hostInterface: String? = nil, macAddress: String? = nil
    ) {
        self.namespacePath = namespacePath; self.ipAddress = ipAddress; self.prefixLength = prefixLength
        self.gateway = gateway; self.hostInterface = hostInterface; self.macAddress = macAddress
    }
}
