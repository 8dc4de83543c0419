/// Server-side bookkeeping of observers (RFC 7641 §3.1, §4).
///
/// A GET with Observe 0 registers (peer, token) on the resource's path; a GET with Observe 1, a
/// Reset to a notification, or a confirmable notification that is never acknowledged removes it.
/// Each resource numbers its notifications with a 24-bit sequence. Notifications are NON, except
/// every `confirmableEvery`-th one and at least one per `confirmableInterval`, which are CON so a
/// client that went away is noticed. Capped per peer and in total.
public struct ObserveRegistry<Peer: Hashable & Sendable>: Sendable {
    /// Limits and the CON/NON policy.
    public struct Configuration: Sendable {
        /// Observations in total; further registrations are answered without Observe.
        public var maxObservers: Int = 256
        /// Observations one peer may hold.
        public var maxObserversPerPeer: Int = 16
        /// Every n-th notification to an observer is confirmable.
        public var confirmableEvery: Int = 8
        /// A notification is confirmable when the last CON to that observer is older than this, seconds (§4.5: 24 h at most).
        public var confirmableInterval: Double = 3600

        public init() {}
    }

    /// One registered observer.
    public struct Observer: Sendable, Hashable {
        public var peer: Peer
        public var token: CoAPToken
        /// The observed resource's path, `/a/b`.
        public var path: String
        /// The original request, replayed to the handler to produce each notification.
        public var request: CoAPMessage
        var sinceConfirmable: Int
        var lastConfirmable: Double
    }

    /// What a request means for the observer list.
    public enum Decision: Sendable, Hashable {
        /// Not an observe request (or not a GET): answer normally.
        case none
        /// Registered: put `Observe: sequence` in the response.
        case registered(sequence: UInt32)
        /// Deregistered (Observe 1): answer normally, without Observe.
        case deregistered
        /// Observe 0 but the tables are full: answer normally without Observe (§4.1 allows it).
        case refused
    }

    /// A notification to send: the caller renders the resource, adds `Observe: sequence`, and sends.
    public struct Notification: Sendable, Hashable {
        public var peer: Peer
        public var token: CoAPToken
        public var request: CoAPMessage
        public var sequence: UInt32
        public var confirmable: Bool
    }

    struct Key: Hashable, Sendable {
        var peer: Peer
        var token: CoAPToken
    }

    public var configuration: Configuration
    private var observers: [Key: Observer] = [:]
    private var sequences: [String: UInt32] = [:]
    private var perPeer: [Peer: Int] = [:]

    public init(configuration: Configuration = Configuration()) { self.configuration = configuration }

    /// The number of observations.
    public var count: Int { observers.count }

    /// Observers of `path`.
    public func observers(of path: String) -> [Observer] { observers.values.filter { $0.path == path } }

    /// Applies a request's Observe option (GET only; §2 ignores Observe on other methods).
    public mutating func receive(_ request: CoAPMessage, from peer: Peer, now: Double) -> Decision {
        guard request.code == .get, let observe = request.observe else { return .none }
        let key = Key(peer: peer, token: request.token)
        switch observe {
        case 0:
            if observers[key] == nil {
                guard observers.count < configuration.maxObservers, perPeer[peer, default: 0] < configuration.maxObserversPerPeer else {
                    return .refused
                }
                perPeer[peer, default: 0] += 1
            }
            observers[key] = Observer(
                peer: peer, token: request.token, path: request.path, request: request,
                sinceConfirmable: 0, lastConfirmable: now)
            return .registered(sequence: sequence(of: request.path))
        case 1:
            remove(peer: peer, token: request.token)
            return .deregistered
        default:
            return .none
        }
    }

    /// The resource at `path` changed: one notification per observer, with the next sequence number.
    public mutating func changed(_ path: String, now: Double) -> [Notification] {
        let next = (sequence(of: path) + 1) & 0xFF_FFFF
        sequences[path] = next
        var out: [Notification] = []
        for (key, var o) in observers where o.path == path {
            o.sinceConfirmable += 1
            let confirmable =
                o.sinceConfirmable >= configuration.confirmableEvery
                || now - o.lastConfirmable >= configuration.confirmableInterval
            if confirmable {
                o.sinceConfirmable = 0
                o.lastConfirmable = now
            }
            observers[key] = o
            out.append(Notification(peer: o.peer, token: o.token, request: o.request, sequence: next, confirmable: confirmable))
        }
        return out
    }

    /// Forgets an observation: after a Reset to a notification, a lost CON, or an error response.
    public mutating func remove(peer: Peer, token: CoAPToken) {
        guard observers.removeValue(forKey: Key(peer: peer, token: token)) != nil else { return }
        let n = perPeer[peer, default: 1] - 1
        perPeer[peer] = n > 0 ? n : nil
    }

    /// Forgets every observation of `path` (the resource was deleted).
    public mutating func removeAll(path: String) {
        for (key, o) in observers where o.path == path { remove(peer: key.peer, token: o.token) }
    }

    private func sequence(of path: String) -> UInt32 { sequences[path] ?? 0 }
}
