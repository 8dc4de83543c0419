/// Serves a response body in Block2 blocks (RFC 7959 §2.4).
///
/// Stateless: the whole representation is regenerated (or cached by the caller) for each block
/// request, and this picks the requested slice.
public struct Block2Slicer: Sendable {
    /// Block size used when the client did not ask for one and the body does not fit in one datagram, as SZX.
    public var preferredSZX: UInt8

    /// A slicer that uses `16 << preferredSZX`-byte blocks unless the client asks for smaller ones.
    public init(preferredSZX: UInt8 = 6) { self.preferredSZX = min(preferredSZX, 6) }

    /// The block of `response` that `request` asks for. A body that fits in one block, with no Block2
    /// in the request, is returned unchanged. The first block also carries Size2 with the full length.
    public func slice(_ response: CoAPResponse, for request: CoAPMessage) -> CoAPResponse {
        let requested: BlockOption?
        do throws(BlockOptionError) {
            requested = try request.block2()
        } catch {
            return CoAPResponse(code: .badOption, diagnostic: "Block2: \(error)")
        }
        return slice(response, requested: requested)
    }

    /// The block `requested` of `response` (block 0 at the preferred size when `nil`).
    public func slice(_ response: CoAPResponse, requested: BlockOption?) -> CoAPResponse {
        // Error responses carry short diagnostics; they are never split.
        guard response.code.isSuccess else { return response }
        let body = response.payload
        let szx = min(requested?.szx ?? preferredSZX, preferredSZX)
        let size = 16 << Int(szx)
        if requested == nil, body.count <= size { return response }
        // A client that asked with a bigger block size than we serve gets the block at that byte offset.
        let offset = requested?.offset ?? 0
        guard offset < body.count || (offset == 0 && body.isEmpty) else {
            return CoAPResponse(
                code: .badOption, diagnostic: "Block2 \(requested.map(\.description) ?? "") is past the \(body.count)-byte body")
        }
        let end = min(offset + size, body.count)
        let block = BlockOption(unchecked: UInt32(offset / size), more: end < body.count, szx: szx)
        var out = response
        out.options.removeAll { $0.number == .block2 || $0.number == .size2 }
        out.options.append(block.option(.block2))
        if offset == 0 { out.options.append(CoAPOption(.size2, uint: UInt32(clamping: body.count))) }
        out.payload = Array(body[offset..<end])
        return out
    }
}
