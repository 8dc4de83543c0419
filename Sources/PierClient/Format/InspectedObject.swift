import PierAPI

/// One element of `pier inspect`'s JSON array: a container or an image, encoded as the agent sent it.
public enum InspectedObject: Encodable, Sendable {
    case container(ContainerDetails)
    case image(ImageDetails)

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .container(let details): try details.encode(to: encoder)
        case .image(let details): try details.encode(to: encoder)
        }
    }
}
