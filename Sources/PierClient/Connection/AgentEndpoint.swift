/// Where the client finds the agent: `unix:///path/to/pier.sock` today, `tcp://HOST:PORT`
/// (mutual TLS) once the agent serves it. Parsed from `--host` or `PIER_HOST`.
public enum AgentEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The agent's unix domain socket, by absolute path.
    case unix(path: String)
    /// A TCP address; the client refuses to talk to it until mutual TLS is supported.
    case tcp(host: String, port: Int)

    /// The socket `pier agent` serves by default.
    public static let defaultSocketPath = "/var/lib/pier/pier.sock"
    /// `unix:///var/lib/pier/pier.sock`.
    public static let `default` = AgentEndpoint.unix(path: defaultSocketPath)
    /// The environment variable read when `--host` is not given.
    public static let environmentVariable = "PIER_HOST"

    /// Parses `unix:///abs/path`, `tcp://host:port`, or a bare absolute socket path.
    public init(parsing text: String) throws(ClientError) {
        if text.hasPrefix("unix://") {
            let path = String(text.dropFirst("unix://".count))
            guard path.hasPrefix("/") else {
                throw .invalidHost(text, reason: "a unix socket needs an absolute path, e.g. unix:///var/lib/pier/pier.sock")
            }
            self = .unix(path: path)
        } else if text.hasPrefix("/") {
            self = .unix(path: text)
        } else if text.hasPrefix("tcp://") {
            let rest = text.dropFirst("tcp://".count)
            guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
                  (1...65535).contains(port), colon != rest.startIndex else {
                throw .invalidHost(text, reason: "expected tcp://HOST:PORT with a port from 1 to 65535")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            self = .tcp(host: host, port: port)
        } else {
            throw .invalidHost(text, reason: "expected unix:///PATH or tcp://HOST:PORT")
        }
    }

    /// The endpoint named by the `--host` flag, else by `PIER_HOST`, else the default socket.
    public static func resolve(flag: String?, environment: [String: String]) throws(ClientError) -> AgentEndpoint {
        if let flag, !flag.isEmpty { return try AgentEndpoint(parsing: flag) }
        if let env = environment[environmentVariable], !env.isEmpty { return try AgentEndpoint(parsing: env) }
        return .default
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix://" + path
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        }
    }

    /// The URL AsyncHTTPClient is given for `path` (which starts with `/` and may carry a query):
    /// `http+unix://<percent-encoded socket path><path>` for a unix socket.
    ///
    /// For a TCP endpoint the URL names `serverName` when given (the name the server's certificate
    /// must carry, dialled at the real host through a DNS override), else the host.
    func url(for path: String, serverName: String? = nil) -> String {
        switch self {
        case .unix(let socket):
            "http+unix://" + Self.percentEncodeHost(socket) + path
        case .tcp(let host, let port):
            if let serverName { "https://\(serverName):\(port)" + path }
            else { (host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)") + path }
        }
    }

    /// Encodes everything but unreserved characters (RFC 3986 §2.3), so `/` becomes `%2F`.
    static func percentEncodeHost(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hex[Int(byte >> 4)])
                out.unicodeScalars.append(hex[Int(byte & 0xf)])
            }
        }
        return out
    }
}
