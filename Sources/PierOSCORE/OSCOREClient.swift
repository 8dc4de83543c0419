import NIOCore
import PierCoAP
import Synchronization

/// An OSCORE client over a `CoAPEndpoint`: protects each request with the next sequence number,
/// opens the response, and answers a server's Echo challenge (RFC 8613 Appendix B.1.2) by
/// repeating the request once with the Echo value.
///
/// The sequence number lives in memory only: a context must not be used again by a later
/// process that starts from the same number (nonces would repeat). The endpoint must accept the
/// OSCORE option in responses: `configuration.messageLayer.additionalKnownOptions.insert(.oscore)`.
public final class OSCOREClient: Sendable {
    public let context: OSCORESecurityContext
    private let sequence: Mutex<UInt64>

    public init(context: OSCORESecurityContext, firstSequence: UInt64 = 0) {
        self.context = context
        self.sequence = Mutex(firstSequence)
    }

    /// The next sequence number this client would use.
    public var nextSequence: UInt64 { sequence.withLock { $0 } }

    /// Sends `method path` to `peer` protected and returns the opened response (error responses
    /// included). An unprotected answer (the server refused before decrypting) is returned as it came.
    public func request(
        _ method: CoAPCode, _ path: String, on endpoint: CoAPEndpoint, peer: SocketAddress, query: [String] = [],
        options: [CoAPOption] = [], payload: [UInt8] = [], confirmable: Bool = true
    ) async throws -> CoAPMessage {
        var plain = CoAPMessage(type: confirmable ? .confirmable : .nonConfirmable, code: method, messageID: 0, options: options)
        plain.uriPath = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if !query.isEmpty { plain.uriQuery = query }
        plain.payload = payload
        let first = try await exchange(plain, endpoint: endpoint, peer: peer)
        guard first.code == .unauthorized, let echo = first.option(.echo) else { return first }
        plain.setOptions(.echo, [echo])
        return try await exchange(plain, endpoint: endpoint, peer: peer)
    }

    /// Observes `path` (RFC 7641 through OSCORE, §4.1.3.5): yields the opened registration
    /// response and every notification whose Partial IV is above the last one's (older ones
    /// are replays or reordered, §7.4.1); finishes after an answer without Observe or an error.
    /// An Echo challenge is answered once by registering again with the Echo value.
    public func observe(_ path: String, on endpoint: CoAPEndpoint, peer: SocketAddress, options: [CoAPOption] = [])
        -> AsyncThrowingStream<CoAPMessage, any Error>
    {
        var plain = CoAPMessage(type: .confirmable, code: .get, messageID: 0, options: options)
        plain.uriPath = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        plain.observe = 0
        let registration = plain
        return AsyncThrowingStream { continuation in
            let task = Task {
                var request = registration
                do {
                    for attempt in 0..<2 {
                        let (outer, binding) = try protect(request)
                        var last: UInt64?
                        var echo: CoAPOption?
                        for try await response in endpoint.observe(outer, on: peer) {
                            guard response.option(.oscore) != nil else {
                                continuation.yield(response)
                                continue
                            }
                            let (inner, piv) = try OSCOREProtection.unprotectResponse(response, context: context, binding: binding)
                            if attempt == 0, last == nil, inner.code == .unauthorized, let e = inner.option(.echo) {
                                echo = e
                                break
                            }
                            if let piv {
                                if let l = last, piv <= l { continue }
                                last = piv
                            }
                            continuation.yield(inner)
                        }
                        guard let echo else { break }
                        request.setOptions(.echo, [echo])
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Protects `plain` as the next request: the outer message and what its response is opened with.
    public func protect(_ plain: CoAPMessage) throws(OSCOREError) -> (CoAPMessage, OSCORERequestBinding) {
        let n = sequence.withLock { s in
            defer { s += 1 }
            return s
        }
        return try OSCOREProtection.protectRequest(plain, context: context, sequence: n)
    }

    private func exchange(_ plain: CoAPMessage, endpoint: CoAPEndpoint, peer: SocketAddress) async throws -> CoAPMessage {
        let (outer, binding) = try protect(plain)
        let response = try await endpoint.request(
            outer.code, "", peer: peer, options: outer.options, payload: outer.payload, confirmable: outer.type == .confirmable)
        guard response.option(.oscore) != nil else { return response }
        return try OSCOREProtection.unprotectResponse(response, context: context, binding: binding).0
    }
}
