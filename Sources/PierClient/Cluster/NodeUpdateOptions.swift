import PierCluster

/// The flags of `pier node update` as typed, before they become a ``NodeUpdateRequest``.
public struct NodeUpdateOptions: Sendable, Equatable {
    public var availability: NodeAvailability?
    /// `KEY=VALUE` (a bare `KEY` gets an empty value).
    public var labelAdd: [String]
    /// Label keys.
    public var labelRemove: [String]

    public init(availability: NodeAvailability? = nil, labelAdd: [String] = [], labelRemove: [String] = []) {
        self.availability = availability; self.labelAdd = labelAdd; self.labelRemove = labelRemove
    }

    /// The request; errors name the flag. At least one flag must be given.
    public func request() throws(ClientError) -> NodeUpdateRequest {
        guard availability != nil || !labelAdd.isEmpty || !labelRemove.isEmpty else {
            throw .invalidArgument("nothing to update: give --availability active|pause|drain, --label-add KEY=VALUE or --label-rm KEY")
        }
        for key in labelRemove where key.isEmpty || key.contains("=") {
            throw .invalidArgument("--label-rm \"\(key)\": give the label's key alone, e.g. --label-rm zone")
        }
        return NodeUpdateRequest(
            availability: availability,
            labelAdd: try ServiceFlagValues.labels(labelAdd, flag: "--label-add"),
            labelRemove: labelRemove)
    }
}
