/// Why a container's root filesystem could not be mounted or unmounted.
public enum RootfsError: Error, CustomStringConvertible, Sendable, Equatable {
    case tooManyLayers(count: Int)
    case layerMissing(path: String)
    case mountFailed(target: String, reason: String)
    case unmountFailed(target: String, reason: String)

    public var description: String {
        switch self {
        case .tooManyLayers(let count):
            return "the image has \(count) layers; overlayfs stacks at most \(OverlayRootfs.maxLayers): squash the image"
        case .layerMissing(let path):
            return "layer directory \(path) does not exist; the image store is incomplete (pull or import the image again)"
        case .mountFailed(let target, let reason):
            return "cannot mount the overlay root filesystem at \(target): \(reason); "
                + "the upper directory must be on a filesystem overlayfs supports (ext4, xfs, btrfs, tmpfs)"
        case .unmountFailed(let target, let reason):
            return "cannot unmount \(target): \(reason)"
        }
    }
}
