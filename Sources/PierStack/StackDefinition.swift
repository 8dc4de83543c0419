import Foundation
import PierSpec
import PierCluster

/// A stack ready to deploy: its name and its services, each named `STACK_SERVICE` and labelled
/// `pier.stack.namespace=STACK` (service and task containers alike), which is how
/// `pier stack ls|ps|rm` find them, as Swarm's `com.docker.stack.namespace`.
public struct StackDefinition: Codable, Sendable, Equatable {
    /// The label every service and container of a stack carries, valued with the stack's name.
    public static let namespaceLabel = "pier.stack.namespace"

    public var name: String
    public var services: [ServiceSpec]

    /// Namespaces the compose file's services under `name`. Throws when the name cannot name
    /// services or a service sets the reserved namespace label itself.
    public init(name: String, compose: ComposeFile) throws(StackError) {
        if let reason = Self.nameProblem(name) { throw .invalidStackName(name: name, reason: reason) }
        var problems: [ComposeProblem] = []
        var services: [ServiceSpec] = []
        for var spec in compose.services {
            let path = "services.\(spec.name)"
            if spec.labels[Self.namespaceLabel] != nil {
                problems.append(ComposeProblem(path: "\(path).deploy.labels", kind: .invalid, message: "\(Self.namespaceLabel) is set by Pier; remove it"))
            }
            if spec.task.container.labels[Self.namespaceLabel] != nil {
                problems.append(ComposeProblem(path: "\(path).labels", kind: .invalid, message: "\(Self.namespaceLabel) is set by Pier; remove it"))
            }
            spec.name = "\(name)_\(spec.name)"
            spec.labels[Self.namespaceLabel] = name
            spec.task.container.labels[Self.namespaceLabel] = name
            services.append(spec)
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        self.name = name
        self.services = services
    }

    /// Reads the compose file at `url` and namespaces its services under `name`: what
    /// `pier stack deploy -c FILE NAME` does before it sends anything to the manager.
    public static func load(name: String, contentsOf url: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws(StackError) -> StackDefinition {
        try StackDefinition(name: name, compose: ComposeFile.load(contentsOf: url, environment: environment))
    }

    /// The stack a service belongs to, from its namespace label.
    public static func stackName(of spec: ServiceSpec) -> String? { spec.labels[namespaceLabel] }

    /// Why `name` cannot name a stack or a service (they become DNS names and host names), or nil:
    /// the one name rule (`ObjectName`, a DNS label), in lowercase and without '_', which joins a
    /// stack's name to its services' (`STACK_SERVICE`).
    public static func nameProblem(_ name: String) -> String? {
        if let problem = ObjectName.problem(name, .label) { return "is not a valid name: \(problem)" }
        if name.contains("_") { return "may not contain '_', which joins a stack's name to its services'; use '-'" }
        if name.lowercased() != name { return "has uppercase letters; use lowercase letters, digits and '-' (it becomes a DNS name)" }
        return nil
    }
}
