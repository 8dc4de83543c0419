import AsyncHTTPClient
import NIOCore
import PierAPI

/// An open attached stream from the agent (`run` in the foreground, `exec`, `logs`).
public struct AttachedStream: Sendable {
    let body: HTTPClientResponse.Body
    /// The request, for error messages, e.g. `POST /v1/containers`.
    let request: String
    /// The container's id when the agent names it (`Pier-Container-Id` header of an attached run).
    public let containerID: String?

    /// The response header an attached run names its new container with.
    static let containerIDHeader = "Pier-Container-Id"

    init(response: HTTPClientResponse, request: String) {
        self.body = response.body
        self.request = request
        self.containerID = response.headers.first(name: Self.containerIDHeader)
    }

    /// Copies stdout and stderr frames to `output` until the exit frame or the end of the stream.
    /// Returns the exit status, or nil when the stream ended without one (plain `logs`).
    /// An error frame from the agent is thrown as ``ClientError/streamError(_:)``.
    public func pump(into output: some StreamOutput) async throws -> ContainerExit? {
        var reader = AttachedStreamReader()
        do {
            for try await chunk in body {
                for event in try reader.receive(chunk.readableBytesView) {
                    switch event {
                    case .stdout(let bytes): output.writeStdout(bytes)
                    case .stderr(let bytes): output.writeStderr(bytes)
                    case .error(let message): throw ClientError.streamError(message)
                    // The agent ends the stream right after the exit frame; no need to wait for it.
                    case .exit(let status): return status
                    }
                }
            }
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError.transport(request: request, reason: "\(error)")
        }
        try reader.finish()
        return nil
    }

    /// Like ``pump(into:)``, but a stream that ends without an exit status is an error.
    public func pumpUntilExit(into output: some StreamOutput) async throws -> ContainerExit {
        guard let status = try await pump(into: output) else { throw ClientError.streamEndedEarly(request: request) }
        return status
    }
}
