import PierCluster
import Testing

@testable import PierStack

/// Parses a one-service file whose service body is `body` (written at column 0).
func service(_ body: String, environment: [String: String] = [:]) throws -> ServiceSpec {
    let file = try ComposeFile.parse(yaml: wrap(body), directory: "/srv/stack", environment: environment)
    return try #require(file.services.first)
}

/// The problems a compose file is refused with; records an issue when it is accepted.
func problems(ofFile yaml: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> [ComposeProblem] {
    do {
        _ = try ComposeFile.parse(yaml: yaml, directory: "/srv/stack", environment: environment)
        Issue.record("accepted a compose file that should be refused", sourceLocation: sourceLocation)
        return []
    } catch {
        if case .invalid(let p) = error { return p }
        Issue.record("refused with \(error) instead of a list of problems", sourceLocation: sourceLocation)
        return []
    }
}

/// The problems of a one-service file (service `web`).
func problems(_ body: String, environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> [ComposeProblem] {
    problems(ofFile: wrap(body), environment: environment, sourceLocation: sourceLocation)
}

func wrap(_ body: String) -> String {
    "services:\n  web:\n" + body.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n") + "\n"
}
