import PierSpec
import Foundation
import PierAPI

/// A foreground `pier run` over the agent's unix socket with one plain blocking socket instead
/// of the HTTP client library: it is the activation path, where the library's set-up and
/// shut-down cost about as much as the agent's own work. HTTP/1.1, one request, `Connection:
/// close`; the answer's chunked body is decoded as it arrives and fed to `AttachedStreamReader`.
public enum DirectAttachedRun {
    /// Creates, starts and attaches to a container; returns its exit. `onContainer` gets the new
    /// container's id as soon as the agent names it (for signal forwarding).
    public static func run(
        socketPath: String, request: ContainerSpec, output: some StreamOutput,
        onContainer: (String) -> Void = { _ in }
    ) throws(ClientError) -> ContainerExit {
        let what = "POST /v1/containers"
        let body: Data
        do {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            body = try encoder.encode(request)
        } catch { throw .invalidArgument("cannot encode the request: \(error)") }

        let connection = try UnixSocketConnection(socketPath: socketPath, request: what)
        let fd = connection.fd

        let head = "POST /v1/containers?start=1&attach=1 HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        try connection.writeAll(Array(head.utf8) + Array(body))

        var reader = ResponseReader(fd: fd, request: what)
        let (status, headers) = try reader.readHead()
        if let id = headers["pier-container-id"] { onContainer(id) }
        guard status == 200 else {
            let text = String(decoding: try reader.readWholeBody(headers: headers), as: UTF8.self)
            let message = (try? JSONDecoder().decode(APIError.self, from: Data(text.utf8)))?.message ?? text
            throw .api(status: status, message: message)
        }
        var stream = AttachedStreamReader()
        while let chunk = try reader.nextBodyChunk(headers: headers) {
            for event in try stream.receive(chunk) {
                switch event {
                case .stdout(let bytes): output.writeStdout(bytes)
                case .stderr(let bytes): output.writeStderr(bytes)
                case .error(let message): throw .streamError(message)
                case .exit(let exit): return exit
                }
            }
        }
        throw .streamEndedEarly(request: what)
    }
}
