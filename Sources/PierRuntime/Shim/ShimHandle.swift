/// A started container: its shim (which outlives the agent) and the container's init.
public struct ShimHandle: Sendable, Equatable {
    public var shimPID: Int32
    /// Host pid of the container's init; nil in foreground mode, where runc itself stays in
    /// between (read the pid file if it is needed).
    public var containerPID: Int32?

    public init(shimPID: Int32, containerPID: Int32?) {
        self.shimPID = shimPID; self.containerPID = containerPID
    }
}
