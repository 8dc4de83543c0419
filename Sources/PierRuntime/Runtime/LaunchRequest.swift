import PierSpec
import Foundation

/// Everything needed to start one container.
public struct LaunchRequest: Sendable {
    public var id: String
    public var options: ContainerOptions
    public var image: ImageRunConfig
    /// Unpacked layer directories, top-most first.
    public var layers: [URL]
    public var layout: ContainerLayout
    /// Replaces entrypoint + cmd as computed from image and options.
    public var arguments: [String]?
    /// One `runc run` for the container's whole life (`pier run --rm` without `-d`).
    public var foreground: Bool
    /// The resolv.conf of a bridge container when the node runs its own resolver; nil: the
    /// node's, without loopback name servers.
    public var resolvConf: String?

    public init(
        id: String, options: ContainerOptions, image: ImageRunConfig, layers: [URL], layout: ContainerLayout,
        arguments: [String]? = nil, foreground: Bool = false, resolvConf: String? = nil
    ) {
        self.id = id; self.options = options; self.image = image; self.layers = layers; self.layout = layout
        self.arguments = arguments; self.foreground = foreground; self.resolvConf = resolvConf
    }
}

/// A started container.
public struct LaunchedContainer: Sendable, Equatable {
    public var shimPID: Int32
    /// nil in foreground mode (see `ShimHandle`).
    public var containerPID: Int32?
    /// Set with bridge networking.
    public var network: NetworkAttachment?

    public init(shimPID: Int32, containerPID: Int32?, network: NetworkAttachment?) {
        self.shimPID = shimPID; self.containerPID = containerPID; self.network = network
    }

    public var ipAddress: String? { network?.ipAddress }
}

/// A container ready to start: its bundle is written, its rootfs and network are set up.
public struct PreparedContainer: Sendable {
    public var id: String
    public var layout: ContainerLayout
    public var spec: RuntimeSpec
    public var network: NetworkAttachment?
    /// How its shim will be started.
    public var shim: ShimConfiguration

    public init(id: String, layout: ContainerLayout, spec: RuntimeSpec, network: NetworkAttachment?, shim: ShimConfiguration) {
        self.id = id; self.layout = layout; self.spec = spec; self.network = network; self.shim = shim
    }
}
