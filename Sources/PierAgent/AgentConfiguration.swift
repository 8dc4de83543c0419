import PierSpec
import Foundation
import PierCoAPAPI
import PierOCI
import PierRuntime

/// Settings of one `pier agent`, with the defaults a single gateway wants.
public struct AgentConfiguration: Sendable {
    /// Images, containers, state and logs live below this directory.
    public var dataRoot: URL
    /// Where the API is served, e.g. `unix:///var/lib/pier/pier.sock`.
    public var listen: [String]
    /// The runc binary; nil looks in `PIER_RUNC`, PATH and `/usr/sbin`.
    public var runcPath: String?
    /// The `pier-shim` binary; nil looks in `PIER_SHIM`, next to `pier`, and PATH.
    public var shimPath: String?
    /// The bridge `--network bridge` attaches containers to, and its subnet.
    public var bridgeName: String
    public var bridgeSubnet: String
    /// Log rotation defaults for containers that do not set their own.
    public var logMaxSize: Int
    public var logMaxFiles: Int
    /// Largest request body accepted (image imports excepted, which stream to disk).
    public var maxRequestBody: Int
    /// Upper bound on unpacked bytes per layer (decompression bombs stop here).
    public var maxLayerBytes: Int64
    /// The CoAP interface for constrained clients, if one is served (`--coap`, `--coap-keys`,
    /// `--coap-insecure-token`).
    public var coap: CoAPInterfaceOptions?
    /// The group whose members may use the unix sockets besides root (`--socket-group`): they
    /// act as admin.
    public var socketGroup: UInt32?
    /// Public keys images must be signed by (`--trust-key`); empty runs any image.
    public var trustedKeys: [TrustedKey] = []
    /// Layers a pull downloads at the same time (`--max-concurrent-downloads`).
    public var maxConcurrentDownloads = 3
    /// Network namespaces kept connected to the bridge ahead of need (`--network-pool`).
    public var networkPool = 0
    /// The user namespace of containers that do not choose one (`--userns`): the host's, or
    /// remapped to the `pier` subordinate range.
    public var userns: UsernsMode = .host
    /// This node's side of a cluster network (`--mesh-interface`, `--mesh-port`, `--node-mtu`, `--relay`).
    public var mesh = MeshOptions()
    /// Name servers the node's resolver forwards to (`--dns-upstream`); nil: those of /etc/resolv.conf.
    public var dnsUpstreams: [String]?
    public static let maxNetworkPool = NetworkConfiguration.maxPoolSize

    public init(
        dataRoot: URL = URL(fileURLWithPath: "/var/lib/pier"), listen: [String] = [], runcPath: String? = nil,
        shimPath: String? = nil, bridgeName: String = "pier0", bridgeSubnet: String = "10.89.0.0/16", logMaxSize: Int = 10 << 20,
        logMaxFiles: Int = 3, maxRequestBody: Int = 1 << 20, maxLayerBytes: Int64 = 16 << 30
    ) {
        self.dataRoot = dataRoot
        self.listen = listen.isEmpty ? ["unix://" + dataRoot.appendingPathComponent("pier.sock").path] : listen
        self.runcPath = runcPath; self.shimPath = shimPath; self.bridgeName = bridgeName; self.bridgeSubnet = bridgeSubnet
        self.logMaxSize = logMaxSize; self.logMaxFiles = logMaxFiles; self.maxRequestBody = maxRequestBody
        self.maxLayerBytes = maxLayerBytes
    }

    /// Why `server` cannot be a `--dns-upstream` (`ADDRESS` or `ADDRESS#PORT`), or nil.
    public static func dnsUpstreamProblem(_ server: String) -> String? { NodeResolver.upstreamProblem(server) }

    var containersRoot: URL { dataRoot.appendingPathComponent("containers") }
    var databasePath: URL { dataRoot.appendingPathComponent("agent.db") }
}
