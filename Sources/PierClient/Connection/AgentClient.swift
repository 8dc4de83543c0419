import AsyncHTTPClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PierAccess
import PierAPI
import PierPKI

/// Talks HTTP/1.1 to one `pier agent` (docs/agent-api.md). Create it with ``withClient(endpoint:configuration:_:)``,
/// which shuts the connection pool down when the body returns.
public struct AgentClient: Sendable {
    /// The agent this client talks to.
    public let endpoint: AgentEndpoint
    /// The HTTP client library, made on first use: small requests to a unix socket go without it
    /// (``UnixSocketConnection``), so most commands never start its event loops.
    private let library: LazyHTTPClient
    var http: HTTPClient { library.client }

    let configuration: Configuration

    /// How the client connects.
    public struct Configuration: Sendable {
        /// How long connecting may take; a missing socket fails at once regardless.
        public var connectTimeout: Duration = .seconds(5)
        /// Largest non-streamed answer accepted (listings, inspect, errors).
        public var maxAnswerBytes = 64 << 20
        /// For `tcp://` endpoints: a directory with `node.pem`, `node-key.pem` and `ca.pem` (what
        /// `pier cert create` writes). The client presents that certificate and trusts only that CA.
        public var tlsDirectory: String?
        /// For `tcp://` endpoints: the role the server must hold — `manager` for the cluster's
        /// commands, nil for any node (an agent's direct port). Checked in the handshake, before
        /// anything is sent.
        public var serverRole: Role?

        public init(tlsDirectory: String? = nil, serverRole: Role? = nil) {
            self.tlsDirectory = tlsDirectory
            self.serverRole = serverRole
        }
    }

    /// For a `tcp://` endpoint, the server name its certificate must carry, which the URLs name
    /// (the real address is dialled through a DNS override).
    let serverName: String?

    init(endpoint: AgentEndpoint, configuration: Configuration) throws(ClientError) {
        var tls: ClientTLS?
        if case .tcp = endpoint {
            guard let directory = configuration.tlsDirectory else { throw .tlsNotSupported(endpoint: endpoint.description) }
            do {
                tls = try ClientTLS(identity: try NodeIdentity.load(from: directory), server: configuration.serverRole)
            } catch {
                throw .file(path: directory, reason: "cannot load the client certificate for \(endpoint): \(error)")
            }
        }
        let (seconds, attoseconds) = configuration.connectTimeout.components
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls?.configuration,
            redirectConfiguration: .disallow,
            // No read timeout: `logs -f`, `wait` and attached runs are silent for as long as they like.
            timeout: .init(connect: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000), read: nil),
            decompression: .disabled
        )
        // A missing or dead socket is reported at once instead of retried until the connect timeout.
        http.connectionPool.retryConnectionEstablishment = false
        if let tls, case .tcp(let host, _) = endpoint { http.dnsOverride = [tls.serverName: host] }
        self.serverName = tls?.serverName
        self.endpoint = endpoint
        self.configuration = configuration
        self.library = LazyHTTPClient(configuration: http)
    }

    /// Runs `body` with a client for `endpoint` and shuts the client down afterwards, also on errors.
    public static func withClient<R: Sendable>(
        endpoint: AgentEndpoint, configuration: Configuration = Configuration(), _ body: (AgentClient) async throws -> R
    ) async throws -> R {
        let client = try AgentClient(endpoint: endpoint, configuration: configuration)
        let result: R
        do {
            result = try await body(client)
        } catch {
            await client.library.shutdown()
            throw error
        }
        await client.library.shutdown()
        return result
    }

    // MARK: Requests

    /// A request body: nothing, JSON, or a stream of bytes of known or unknown length.
    enum RequestBody {
        case none
        case json(Data)
        case stream(HTTPClientRequest.Body, contentType: String)

        /// The body of a plain exchange: `.some(nil)` for none, the JSON, or nil for a stream.
        var plainJSON: Data?? {
            switch self {
            case .none: return .some(nil)
            case .json(let data): return .some(data)
            case .stream: return nil
            }
        }
    }

    /// Sends one request and returns the response once its head arrived with a 2xx status.
    /// A 4xx/5xx answer becomes ``ClientError/api(status:message:)`` with the agent's message.
    func send(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: RequestBody = .none
    ) async throws -> HTTPClientResponse {
        let target = Self.target(path: path, query: query)
        var request = HTTPClientRequest(url: endpoint.url(for: target, serverName: serverName))
        request.method = method
        switch body {
        case .none:
            break
        case .json(let data):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: data))
        case .stream(let stream, let contentType):
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = stream
        }
        let label = "\(method.rawValue) \(path)"
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            throw mapTransportError(error, request: label)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            throw await Self.apiError(from: response)
        }
        return response
    }

    /// Sends a request and decodes its JSON answer.
    func decode<T: Decodable>(
        _ type: T.Type, _ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
        body: RequestBody = .none
    ) async throws -> T {
        let data = try await bytes(method, path, query: query, body: body)
        do {
            return try WireCoding.decoder().decode(T.self, from: data)
        } catch {
            throw ClientError.badResponse(request: "\(method.rawValue) \(path)", reason: "\(error)")
        }
    }

    /// Sends a request and collects its whole answer.
    func bytes(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: RequestBody = .none
    ) async throws -> Data {
        if case .unix(let socketPath) = endpoint, let json = body.plainJSON {
            return try await plainExchange(socketPath: socketPath, method, Self.target(path: path, query: query), json: json)
        }
        let response = try await send(method, path, query: query, body: body)
        do {
            let buffer = try await response.body.collect(upTo: configuration.maxAnswerBytes)
            return Data(buffer.readableBytesView)
        } catch {
            throw mapTransportError(error, request: "\(method.rawValue) \(path)")
        }
    }

    /// `bytes` on a unix socket, through ``UnixSocketConnection``. The socket blocks, so the
    /// exchange runs on a thread of its own rather than holding one of the few cooperative ones
    /// (an agent in the same process, as in tests, may need them to answer).
    private func plainExchange(socketPath: String, _ method: HTTPMethod, _ target: String, json: Data?) async throws -> Data {
        let maxBody = configuration.maxAnswerBytes
        let answer = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { () throws(ClientError) in
                    try UnixSocketConnection.exchange(
                        socketPath: socketPath, method: method.rawValue, target: target, json: json, maxBody: maxBody)
                })
            }.start()
        }
        guard (200..<300).contains(answer.status) else {
            throw Self.apiError(status: answer.status, reason: nil, body: answer.body)
        }
        return answer.body
    }

    /// Sends a request whose answer has no body (204).
    func perform(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: RequestBody = .none
    ) async throws {
        _ = try await bytes(method, path, query: query, body: body)
    }

    /// JSON-encodes a request body.
    static func json(_ value: some Encodable) throws -> RequestBody {
        do {
            return .json(try WireCoding.encoder().encode(value))
        } catch {
            throw ClientError.invalidArgument("could not encode the request: \(error)")
        }
    }

    // MARK: Helpers

    /// `/v1/x?k=v&…` with the query values percent-encoded.
    static func target(path: String, query: [(String, String)]) -> String {
        guard !query.isEmpty else { return path }
        return path + "?" + query.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
    }

    /// One path segment, e.g. an image reference: everything but RFC 3986 unreserved characters is encoded.
    static func segment(_ text: String) -> String { percentEncode(text) }

    static func percentEncode(_ text: String) -> String { AgentEndpoint.percentEncodeHost(text) }

    /// The agent's `{"message"}` error body, or the raw status when the body is something else.
    static func apiError(from response: HTTPClientResponse) async -> ClientError {
        let buffer = try? await response.body.collect(upTo: 1 << 20)
        let data = buffer.map { Data($0.readableBytesView) } ?? Data()
        return apiError(status: Int(response.status.code), reason: response.status.reasonPhrase, body: data)
    }

    static func apiError(status: Int, reason: String?, body data: Data) -> ClientError {
        if let error = try? JSONDecoder().decode(APIError.self, from: data) {
            return .api(status: status, message: error.message)
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let reason = text.isEmpty ? (reason ?? HTTPResponseStatus(statusCode: status).reasonPhrase) : text
        return .api(status: status, message: "the agent answered \(status): \(reason)")
    }

    /// Connection failures become ``ClientError/agentUnreachable(endpoint:)``; the rest keep their reason.
    func mapTransportError(_ error: any Error, request: String) -> any Error {
        if error is ClientError || error is CancellationError { return error }
        if Self.isConnectFailure(error) { return ClientError.agentUnreachable(endpoint: endpoint.description) }
        return ClientError.transport(request: request, reason: "\(error)")
    }

    static func isConnectFailure(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return error == .connectTimeout
        }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError {
            return [ENOENT, ECONNREFUSED, EACCES, ENOTSOCK, ENOTDIR].contains(error.errnoCode)
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        return false
    }
}

/// An `HTTPClient` created when first asked for, and shut down only if it was.
final class LazyHTTPClient: Sendable {
    private let configuration: HTTPClient.Configuration
    private let state = NIOLockedValueBox<HTTPClient?>(nil)

    init(configuration: HTTPClient.Configuration) { self.configuration = configuration }

    var client: HTTPClient {
        state.withLockedValue { existing in
            if let existing { return existing }
            let made = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            existing = made
            return made
        }
    }

    func shutdown() async {
        let made = state.withLockedValue { existing in
            defer { existing = nil }
            return existing
        }
        try? await made?.shutdown()
    }
}
