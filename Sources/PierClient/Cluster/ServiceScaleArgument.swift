/// One `SERVICE=REPLICAS` argument of `pier service scale`.
public struct ServiceScaleArgument: Sendable, Equatable {
    public var service: String
    public var replicas: Int

    public init(service: String, replicas: Int) { self.service = service; self.replicas = replicas }

    /// Parses `web=3`; the error names the argument and shows the expected form.
    public init(parsing text: String) throws(ClientError) {
        let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw .invalidArgument("\"\(text)\" is not SERVICE=REPLICAS; write e.g. pier service scale web=3")
        }
        guard let replicas = Int(parts[1]), replicas >= 0 else {
            throw .invalidArgument("\"\(text)\": the replica count \"\(parts[1])\" is not a number of 0 or more")
        }
        self.init(service: String(parts[0]), replicas: replicas)
    }
}
