import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Bounds of every Pier HTTP server (agent API, manager API and registry): request headers, and
/// how long a connection may stay silent. Request bodies are bounded where they are read (each
/// `collect(upTo:)` and each upload names its maximum).
///
/// The idle timeout closes a connection when no request part arrives for that long: a keep-alive
/// connection between requests, a request head that never completes, a body that stalls. A
/// response being written (a pull with progress, `logs -f`) is not idle.
public struct HTTPServerLimits: Sendable {
    /// Longest single header line (name and value).
    public var maxHeaderFieldSize: Int
    /// Most bytes of all header lines of one request.
    public var maxHeaderListSize: Int
    /// Most header lines in one request.
    public var maxHeaderFieldCount: Int
    /// Silence after which a connection is closed.
    public var idleTimeout: Duration

    public init(
        maxHeaderFieldSize: Int = 16 << 10, maxHeaderListSize: Int = 64 << 10, maxHeaderFieldCount: Int = 100,
        idleTimeout: Duration = .seconds(60)
    ) {
        self.maxHeaderFieldSize = maxHeaderFieldSize
        self.maxHeaderListSize = maxHeaderListSize
        self.maxHeaderFieldCount = maxHeaderFieldCount
        self.idleTimeout = idleTimeout
    }

    /// Hummingbird's HTTP/1.1 channel with these limits; headers over them answer 431 and the
    /// connection closes.
    public var http1: HTTP1Channel.Configuration {
        let components = idleTimeout.components
        let nanoseconds = components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
        return HTTP1Channel.Configuration(
            additionalChannelHandlers: [HeaderOverflowResponder()],
            idleTimeout: .nanoseconds(nanoseconds),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: maxHeaderFieldSize, maxHeaderListSize: maxHeaderListSize, maxHeaderFieldCount: maxHeaderFieldCount))
    }
}

/// Answers a request whose headers exceed the decoder's limits with 431 Request Header Fields
/// Too Large and closes the connection (Hummingbird alone answers any parse error with 400).
final class HeaderOverflowResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parse = error as? HTTPParserError, parse == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        let head = HTTPResponse(status: .requestHeaderFieldsTooLarge, headerFields: [.connection: "close", .contentLength: "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
