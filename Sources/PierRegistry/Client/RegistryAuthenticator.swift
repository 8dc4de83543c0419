import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A user name and password (or a Pier registry credential's name and secret).
public struct RegistryCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) { self.username = username; self.password = password }

    /// Parses `USER:PASSWORD`, as `skopeo --creds` takes it.
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        username = String(text[..<colon])
        password = String(text[text.index(after: colon)...])
    }

    var basic: String { "Basic " + Data("\(username):\(password)".utf8).base64EncodedString() }
}

/// Answers a registry's `401` challenges as Docker's clients do: `Bearer` (the token flow of
/// Docker Hub and Pier's manager: fetch a token for the challenge's scope from its realm, with
/// the credentials when there are any, anonymously otherwise) or `Basic` (send the credentials).
/// Tokens are kept per scope and sent ahead with later requests of that scope.
actor RegistryAuthenticator {
    let credentials: RegistryCredentials?
    private var tokens: [String: String] = [:]
    private var basicOnly = false

    init(credentials: RegistryCredentials?) { self.credentials = credentials }

    /// The `Authorization` to send with a request of `scope`, if one is known.
    func header(for scope: String) -> String? {
        if let token = tokens[scope] { return "Bearer " + token }
        if basicOnly { return credentials?.basic }
        return nil
    }

    /// After a `401` with `challenge` to a request of `scope` that carried `sent`: the header to
    /// retry with, or nil when a retry cannot do better (the error stands).
    func respond(to challenge: String, scope: String, sent: String?, http: HTTPClient, timeout: TimeAmount) async throws -> String? {
        guard let parsed = Challenge(parsing: challenge) else { return nil }
        switch parsed.scheme {
        case "basic":
            guard let credentials, sent != credentials.basic else { return nil }
            basicOnly = true
            return credentials.basic
        case "bearer":
            guard let realm = parsed.parameters["realm"], let url = URL(string: realm),
                  let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http" else {
                throw RegistryClientError.unexpectedResponse(url: challenge, "a Bearer challenge without a usable realm")
            }
            var query: [(String, String)] = []
            if let service = parsed.parameters["service"] { query.append(("service", service)) }
            query.append(("scope", parsed.parameters["scope"] ?? scope))
            let token = try await fetchToken(realm: realm, query: query, http: http, timeout: timeout)
            let header = "Bearer " + token
            // The same token refused again: it lacks the rights, asking once more will not help.
            guard header != sent else { return nil }
            tokens[scope] = token
            return header
        default:
            return nil
        }
    }

    private func fetchToken(realm: String, query: [(String, String)], http: HTTPClient, timeout: TimeAmount) async throws -> String {
        guard var components = URLComponents(string: realm) else {
            throw RegistryClientError.unexpectedResponse(url: realm, "not a valid token endpoint")
        }
        let existing = components.queryItems ?? []
        components.queryItems = existing + query.map { URLQueryItem(name: $0.0, value: $0.1) }
        guard let url = components.url?.absoluteString else {
            throw RegistryClientError.unexpectedResponse(url: realm, "not a valid token endpoint")
        }
        var request = HTTPClientRequest(url: url)
        if let credentials { request.headers.add(name: "Authorization", value: credentials.basic) }
        let response = try await http.execute(request, deadline: .now() + timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw RegistryClientError.authentication(
                url: realm, status: Int(response.status.code), Self.message(in: Data(body.readableBytesView)))
        }
        struct Answer: Decodable {
            var token: String?
            var access_token: String?
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)),
              let token = answer.token ?? answer.access_token, !token.isEmpty else {
            throw RegistryClientError.unexpectedResponse(url: realm, "the token endpoint's answer holds no token")
        }
        return token
    }

    /// The `message` of a JSON error body (Pier's, or the distribution-spec's), else the text.
    static func message(in data: Data) -> String {
        struct PierError: Decodable { var message: String }
        if let error = try? JSONDecoder().decode(PierError.self, from: data) { return error.message }
        if let error = try? JSONDecoder().decode(RegistryErrorBody.self, from: data), let first = error.errors.first {
            return first.message
        }
        return String(decoding: data.prefix(512), as: UTF8.self)
    }

    /// `Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params, quoted or not).
    struct Challenge {
        var scheme: String
        var parameters: [String: String] = [:]

        init?(parsing text: String) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            let space = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
            scheme = trimmed[..<space].lowercased()
            guard !scheme.isEmpty else { return nil }
            var rest = trimmed[space...].drop { $0 == " " }
            while !rest.isEmpty {
                guard let eq = rest.firstIndex(of: "=") else { break }
                let name = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
                rest = rest[rest.index(after: eq)...]
                var value = ""
                if rest.first == "\"" {
                    rest = rest.dropFirst()
                    while let c = rest.first, c != "\"" {
                        if c == "\\" { rest = rest.dropFirst() }
                        if let next = rest.first { value.append(next); rest = rest.dropFirst() }
                    }
                    rest = rest.dropFirst()
                } else {
                    let end = rest.firstIndex(of: ",") ?? rest.endIndex
                    value = rest[..<end].trimmingCharacters(in: .whitespaces)
                    rest = rest[end...]
                }
                parameters[name] = value
                rest = rest.drop { $0 == "," || $0 == " " }
            }
        }
    }
}

extension RegistryClient {
    /// Sends a request with the authorization known for its scope; on a `401` challenge gets
    /// what it asks for (a token, or Basic credentials) and sends the request once more.
    func execute(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPClientResponse {
        var request = request
        let scope = Self.scope(of: request.url, method: request.method, baseURL: baseURL)
        var sent = request.headers.first(name: "Authorization")
        if sent == nil, let header = await authenticator.header(for: scope) {
            request.headers.replaceOrAdd(name: "Authorization", value: header)
            sent = header
        }
        let response = try await http.execute(request, deadline: deadline)
        guard response.status == .unauthorized, let challenge = response.headers.first(name: "WWW-Authenticate") else { return response }
        let timeout = Self.timeAmount(configuration.readTimeout)
        guard let header = try await authenticator.respond(to: challenge, scope: scope, sent: sent, http: http, timeout: timeout) else {
            return response
        }
        _ = try? await response.body.collect(upTo: 1 << 20)
        request.headers.replaceOrAdd(name: "Authorization", value: header)
        return try await http.execute(request, deadline: deadline)
    }

    /// The token scope a request needs: `repository:NAME:pull` for reads, `…:pull,push` for
    /// writes, `registry:catalog:*` for the catalog.
    static func scope(of url: String, method: HTTPMethod, baseURL: String) -> String {
        guard url.hasPrefix(baseURL + "/v2/") else { return "" }
        let path = url.dropFirst(baseURL.count + 4).split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        if path.hasPrefix("_catalog") { return "registry:catalog:*" }
        var name = ""
        for marker in ["/manifests/", "/blobs/", "/tags/", "/referrers/", "/_pier/"] {
            if let range = path.range(of: marker) { name = String(path[..<range.lowerBound]); break }
        }
        guard !name.isEmpty else { return "" }
        let reads = method == .GET || method == .HEAD
        return "repository:\(name):" + (reads ? "pull" : "pull,push")
    }
}
