import NIOCore
import PierCoAP
import Synchronization

/// OSCORE for a `CoAPEndpoint` that serves (set it as `Configuration.security`): the
/// `OSCOREServerState` of its clients, with the sequence file written before an own sequence
/// number beyond the reserved bound leaves.
///
/// Unprotected requests pass through with no client; the resources decide what they may do.
public final class OSCOREServer: CoAPServerSecurity {
    private struct Sealing: Sendable {
        var client: Int
        var binding: OSCORERequestBinding
    }

    private let state: Mutex<OSCOREServerState>
    private let file: OSCORESequenceFile?
    /// What the file held at start, kept so contexts no longer configured keep their bounds.
    private let loaded: [String: UInt64]

    public var options: Set<CoAPOptionNumber> { [.oscore] }

    /// A server for `clients`; with `file`, own sequence numbers continue above what it says.
    public init(clients: [(name: String, context: OSCORESecurityContext)], file: OSCORESequenceFile?, lookahead: UInt64 = 256)
        throws(OSCOREError)
    {
        let reserved = try file?.load() ?? [:]
        var random = SystemRandomNumberGenerator()
        let state = try OSCOREServerState(
            clients: clients, reserved: reserved, lookahead: lookahead,
            echo: { (0..<8).map { _ in UInt8.random(in: 0...255, using: &random) } })
        // Keep contexts that are gone from the keys file: a key that comes back must not start over.
        try file?.save(reserved.merging(state.reservations, uniquingKeysWith: max))
        self.state = Mutex(state)
        self.file = file
        self.loaded = reserved
    }

    public func open(_ request: CoAPMessage, from peer: SocketAddress) -> CoAPSecurityOutcome {
        state.withLock { state in
            switch state.open(request) {
            case .notProtected:
                return .plain
            case .refused(let error):
                return .respond(error.response)
            case .request(let inner, let client, let binding):
                return .opened(inner, CoAPSecurityBinding(client: state.clients[client].name, state: Sealing(client: client, binding: binding)))
            case .echoChallenge(let client, let binding):
                // The request may be a replay: its nonce must not be reused, so the answer gets our own.
                guard let sealed = seal(state.echoChallenge(client: client), client: client, binding: binding, own: true, state: &state)
                else { return .respond(OSCOREError.sequenceUnavailable("cannot reserve a sequence number").response) }
                return .respond(sealed)
            }
        }
    }

    public func seal(_ response: CoAPResponse, for binding: CoAPSecurityBinding, notification: Bool) -> CoAPResponse? {
        guard let sealing = binding.state as? Sealing else { return nil }
        return state.withLock { state in
            seal(response, client: sealing.client, binding: sealing.binding, own: notification, state: &state)
        }
    }

    private func seal(
        _ response: CoAPResponse, client: Int, binding: OSCORERequestBinding, own: Bool, state: inout OSCOREServerState
    ) -> CoAPResponse? {
        var sequence: UInt64?
        if own {
            guard let (n, persist) = state.takeSequence(client: client) else { return nil }
            // The bound is on disk before any number under it is used (RFC 8613 Appendix B.1.1).
            if let bound = persist {
                if let file {
                    var reserved = loaded.merging(state.reservations, uniquingKeysWith: max)
                    reserved[state.clients[client].context.fingerprint] = bound
                    guard (try? file.save(reserved)) != nil else { return nil }
                }
                state.confirm(client: client, sequence: n, reservedBelow: bound)
            }
            sequence = n
        }
        return try? state.seal(response, client: client, binding: binding, ownSequence: sequence)
    }
}
