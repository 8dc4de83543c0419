/// Server-side reassembly of Block1 request bodies (RFC 7959 §2.3, §2.5, §2.9).
///
/// A pure state machine: feed it each request with the time, it answers with what to do. Transfers
/// are keyed by the peer, the method and the request's URI options, not by token, because clients
/// may change the token between blocks. Every table is bounded: transfers and bytes per peer and
/// in total, and bytes per body; a transfer that goes quiet is forgotten after `transferTimeout`.
/// A server decides whether a request may be served (`CoAPEndpoint.Configuration.admit`) before
/// any of its blocks reaches this buffer.
public struct Block1Reassembler<Peer: Hashable & Sendable>: Sendable {
    /// Limits on reassembly.
    public struct Configuration: Sendable {
        /// Largest body accepted; more is answered 4.13 with Size1 set to this.
        public var maxBodySize: Int = 64 * 1024
        /// Largest block size this server takes, as SZX (6 = 1024 bytes).
        public var maxSZX: UInt8 = 6
        /// Concurrent transfers one peer may have open.
        public var maxTransfersPerPeer: Int = 4
        /// Concurrent transfers across all peers.
        public var maxTransfers: Int = 128
        /// Bytes one peer's unfinished transfers may hold together.
        public var maxBytesPerPeer: Int = 256 * 1024
        /// Bytes all unfinished transfers may hold together.
        public var maxBytes: Int = 4 << 20
        /// Seconds after the last block at which an incomplete transfer is dropped.
        public var transferTimeout: Double = 60

        public init() {}
    }

    /// What identifies one body being uploaded: peer, method, URI options.
    public struct RequestKey: Hashable, Sendable {
        public var peer: Peer
        public var method: CoAPCode
        public var uriOptions: [CoAPOption]

        /// The key of `request` from `peer`.
        public init(_ request: CoAPMessage, from peer: Peer) {
            self.peer = peer
            self.method = request.code
            self.uriOptions = request.options.filter { uriOptionNumbers.contains($0.number) }
        }
    }

    /// What the server does with a request.
    public enum Outcome: Sendable, Hashable {
        /// No Block1 option: handle the request as it is.
        case passThrough
        /// Answer with this response (2.31 Continue, or an error) and do not call the handler.
        case respond(CoAPResponse)
        /// The body is complete: call the handler with it, and put `block1` in the final response.
        case complete(body: [UInt8], block1: CoAPOption)
    }

    struct Transfer: Sendable {
        var body: [UInt8]
        var lastActivity: Double
    }

    public var configuration: Configuration
    private(set) var transfers: [RequestKey: Transfer] = [:]
    private var perPeer: [Peer: Int] = [:]
    private var bytesPerPeer: [Peer: Int] = [:]
    /// Bytes held by unfinished transfers.
    public private(set) var bufferedBytes = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Number of transfers in progress.
    public var activeTransfers: Int { transfers.count }

    /// The time at which the oldest transfer will expire, for scheduling a timer.
    public var nextExpiry: Double? { transfers.values.map(\.lastActivity).min().map { $0 + configuration.transferTimeout } }

    /// Processes one request (already deduplicated by the message layer).
    public mutating func receive(_ request: CoAPMessage, from peer: Peer, now: Double) -> Outcome {
        expire(now: now)
        guard request.option(.block1) != nil else { return .passThrough }
        let block: BlockOption
        do throws(BlockOptionError) {
            guard let b = try request.block1() else { return .passThrough }
            block = b
        } catch {
            return .respond(CoAPResponse(code: .badOption, diagnostic: "Block1: \(error)"))
        }
        let key = RequestKey(request, from: peer)
        let max = configuration.maxBodySize
        if let size1 = request.uint(.size1), Int(size1) > max {
            remove(key)
            return .respond(tooLarge)
        }
        let payload = request.payload
        if block.more ? payload.count != block.size : payload.count > block.size {
            remove(key)
            return .respond(
                CoAPResponse(
                    code: .badRequest,
                    diagnostic: "Block1 \(block) carries \(payload.count) bytes; a block with M=1 must be exactly its size"))
        }

        var body: [UInt8]
        if block.number == 0 {
            if transfers[key] == nil, block.more {
                if perPeer[peer, default: 0] >= configuration.maxTransfersPerPeer || transfers.count >= configuration.maxTransfers {
                    return .respond(
                        CoAPResponse(
                            code: .serviceUnavailable, diagnostic: "too many block-wise uploads in progress; retry later",
                            options: [CoAPOption(.maxAge, uint: UInt32(configuration.transferTimeout.rounded(.up)))]))
                }
            }
            remove(key)
            body = payload
        } else {
            guard var transfer = transfers[key], block.offset == transfer.body.count else {
                remove(key)
                return .respond(
                    CoAPResponse(
                        code: .requestEntityIncomplete,
                        diagnostic: "Block1 \(block) does not continue a transfer in progress; restart from block 0"))
            }
            remove(key)
            transfer.body.append(contentsOf: payload)
            body = transfer.body
        }
        guard body.count <= max else { return .respond(tooLarge) }

        guard block.more else {
            return .complete(body: body, block1: block.option(.block1))
        }
        guard bytesPerPeer[peer, default: 0] + body.count <= configuration.maxBytesPerPeer,
              bufferedBytes + body.count <= configuration.maxBytes else {
            return .respond(
                CoAPResponse(
                    code: .serviceUnavailable,
                    diagnostic: "block-wise uploads in progress hold too many bytes (\(configuration.maxBytesPerPeer) per client, \(configuration.maxBytes) in all); retry later",
                    options: [CoAPOption(.maxAge, uint: UInt32(configuration.transferTimeout.rounded(.up)))]))
        }
        insert(key, Transfer(body: body, lastActivity: now))
        // On the first block a server may ask for smaller blocks (§2.3); the client then continues at
        // the byte offset it reached, counted in the new size.
        let szx = block.number == 0 ? min(block.szx, configuration.maxSZX) : block.szx
        let reply = BlockOption(unchecked: block.number, more: true, szx: szx)
        return .respond(CoAPResponse(code: .continue, options: [reply.option(.block1)]))
    }

    /// Drops every transfer idle for `transferTimeout` or longer.
    public mutating func expire(now: Double) {
        let deadline = now - configuration.transferTimeout
        for (key, t) in transfers where t.lastActivity <= deadline { remove(key) }
    }

    private var tooLarge: CoAPResponse {
        CoAPResponse(
            code: .requestEntityTooLarge,
            diagnostic: "request body exceeds \(configuration.maxBodySize) bytes",
            options: [CoAPOption(.size1, uint: UInt32(clamping: configuration.maxBodySize))])
    }

    private mutating func insert(_ key: RequestKey, _ transfer: Transfer) {
        remove(key)
        transfers[key] = transfer
        perPeer[key.peer, default: 0] += 1
        bytesPerPeer[key.peer, default: 0] += transfer.body.count
        bufferedBytes += transfer.body.count
    }

    private mutating func remove(_ key: RequestKey) {
        guard let old = transfers.removeValue(forKey: key) else { return }
        let n = perPeer[key.peer, default: 1] - 1
        perPeer[key.peer] = n > 0 ? n : nil
        let bytes = bytesPerPeer[key.peer, default: old.body.count] - old.body.count
        bytesPerPeer[key.peer] = bytes > 0 ? bytes : nil
        bufferedBytes -= old.body.count
    }
}

private let uriOptionNumbers: Set<CoAPOptionNumber> = [.uriHost, .uriPort, .uriPath, .uriQuery]

extension BlockOption {
    /// For values already known to be in range.
    init(unchecked number: UInt32, more: Bool, szx: UInt8) {
        self.number = number & Self.maxNumber
        self.more = more
        self.szx = min(szx, 6)
    }
}
