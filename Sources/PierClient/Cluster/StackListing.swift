import PierCluster

/// The `pier stack ls` table and the report of `pier stack deploy`.
public enum StackListing {
    public static let header = ["NAME", "SERVICES"]

    public static func table(_ stacks: [StackSummary]) -> TextTable {
        TextTable(header: header, rows: stacks.map { [$0.name, String($0.services)] })
    }

    /// `Creating service s_web`, `Updating service s_db`, one line each, as `docker stack deploy`,
    /// after the compose file's warnings.
    public static func deployReport(_ result: StackDeployResult) -> String {
        (result.warnings.map { "Warning: \($0)\n" } + result.created.map { "Creating service \($0)\n" }
            + result.updated.map { "Updating service \($0)\n" } + result.unchanged.map { "Service \($0) is unchanged\n" }).joined()
    }

    /// The services of stack `name`: those labelled `pier.stack.namespace=name`.
    public static func members(of name: String, in services: [Service]) -> [Service] {
        services.filter { $0.spec.labels[stackNamespaceLabel] == name }
    }
}
