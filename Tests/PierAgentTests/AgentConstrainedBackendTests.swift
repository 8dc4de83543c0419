import Foundation
import PierCoAPAPI
import Testing
@testable import PierAgent

/// The CoAP interface's agent backend on a real agent node (no container is started: running
/// ones are covered by the integration tests' CoAP interface suite).
@Suite struct AgentConstrainedBackendTests {
    @Test func anActivationThatCannotBeCreatedIsRefusedWithTheReasonAndLeavesNothing() async throws {
        try await withAgentNode { node, _ in
            let backend = AgentConstrainedBackend(containers: node.containers)
            let request = try ActivationRequest.parse(Array(#"{"image":"nothing/here:1","network":"none"}"#.utf8), name: "sensor", cluster: false)
            do {
                _ = try await backend.activate("sensor", request, client: "field-1")
                Issue.record("an activation of a missing image was accepted")
            } catch {
                guard case .notFound(let reason) = backend.translate(error) else {
                    Issue.record("translated as \(backend.translate(error))")
                    return
                }
                #expect(reason.contains("nothing/here"), "\(reason)")
            }
            #expect(try await backend.list().isEmpty)
            for operation in ["status", "stop", "start", "remove"] {
                do {
                    switch operation {
                    case "status": _ = try await backend.status("sensor")
                    case "stop": try await backend.stop("sensor")
                    case "start": try await backend.start("sensor")
                    default: try await backend.remove("sensor")
                    }
                    Issue.record("\(operation) of an unknown service succeeded")
                } catch {
                    guard case .notFound(let reason) = backend.translate(error) else {
                        Issue.record("\(operation): translated as \(backend.translate(error))")
                        continue
                    }
                    #expect(reason == "no service sensor on this agent", "\(operation): \(reason)")
                }
            }
        }
    }

    @Test func agentErrorsMapToTheInterfacesClasses() async throws {
        try await withAgentNode { node, _ in
            let backend = AgentConstrainedBackend(containers: node.containers)
            func kind(_ error: any Error) -> String {
                switch backend.translate(error) {
                case .invalid(let m): "invalid \(m)"
                case .forbidden(let m): "forbidden \(m)"
                case .notFound(let m): "notFound \(m)"
                case .conflict(let m): "conflict \(m)"
                case .failed(let m): "failed \(m)"
                }
            }
            #expect(kind(AgentError.invalid("memory: bad")) == "invalid memory: bad")
            #expect(kind(AgentError.noSuchContainer("web")) == "notFound no service web on this agent")
            #expect(kind(AgentError.noSuchImageMessage("no image x")).hasPrefix("notFound "))
            #expect(kind(AgentError.conflict("name web is taken")) == "conflict name web is taken")
            // The agent's "forbidden" (a refused host option) is the client's request to change: 4.00.
            #expect(kind(AgentError.forbidden("--privileged")) == "invalid --privileged")
            #expect(kind(AgentError.failed("runc broke")) == "failed runc broke")
            #expect(kind(CocoaError(.fileNoSuchFile)).hasPrefix("failed "))
        }
    }
}
