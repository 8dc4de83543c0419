import Foundation

/// An IPv4 address with a prefix length, in CIDR form (`10.89.3.0/24`). The address is kept as
/// given (`10.89.3.1/24` names the bridge's own address on that subnet); `network` drops the
/// host bits.
public struct IPv4Network: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var address: UInt32
    public var prefix: Int

    public init(address: UInt32, prefix: Int) {
        precondition((0...32).contains(prefix), "prefix \(prefix) outside 0…32")
        self.address = address; self.prefix = prefix
    }

    /// Parses `a.b.c.d/n`; `requireNetwork`: host bits must be zero (a subnet, not an address on it).
    public init(parsing text: String, requireNetwork: Bool = false) throws(IPv4NetworkError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = Self.parseAddress(String(parts[0])),
              parts[1].allSatisfy(\.isASCII), let prefix = Int(parts[1]), (0...32).contains(prefix), parts[1].count <= 2
        else { throw .notCIDR(text) }
        self.address = address; self.prefix = prefix
        if requireNetwork, address != network.address { throw .hostBitsSet(text, network: network.description) }
    }

    /// `a.b.c.d` as a 32-bit number, or nil.
    public static func parseAddress(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }), let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    public static func format(_ address: UInt32) -> String {
        "\(address >> 24).\(address >> 16 & 0xff).\(address >> 8 & 0xff).\(address & 0xff)"
    }

    public var mask: UInt32 { prefix == 0 ? 0 : UInt32.max << (32 - prefix) }
    /// The subnet itself (host bits cleared).
    public var network: IPv4Network { IPv4Network(address: address & mask, prefix: prefix) }
    /// How many addresses the prefix spans.
    public var size: UInt64 { UInt64(1) << (32 - prefix) }
    public var first: UInt32 { address & mask }
    public var last: UInt32 { first | ~mask }
    public var addressText: String { Self.format(address) }

    public func contains(_ other: UInt32) -> Bool { other & mask == first }
    public func contains(_ other: IPv4Network) -> Bool { other.prefix >= prefix && contains(other.first) }
    public func overlaps(_ other: IPv4Network) -> Bool { contains(other.first) || other.contains(first) }

    /// The `n`th subnet of length `length` inside this one (0-based), or nil past the end.
    public func subnet(_ n: Int, length: Int) -> IPv4Network? {
        guard length >= prefix, length <= 32, n >= 0, UInt64(n) < UInt64(1) << (length - prefix) else { return nil }
        return IPv4Network(address: first + UInt32(n) << (32 - length), prefix: length)
    }

    /// The `n`th address of the subnet (`hostAddress(1)` is the usual gateway).
    public func host(_ n: UInt32) -> UInt32 { first + n }

    public var description: String { "\(Self.format(address))/\(prefix)" }

    public static func < (a: IPv4Network, b: IPv4Network) -> Bool { (a.address, a.prefix) < (b.address, b.prefix) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

public enum IPv4NetworkError: Error, Equatable, Sendable, CustomStringConvertible {
    case notCIDR(String)
    case hostBitsSet(String, network: String)

    public var description: String {
        switch self {
        case .notCIDR(let text): "\"\(text.prefix(64))\" is not an IPv4 CIDR such as 10.89.0.0/16"
        case .hostBitsSet(let text, let network): "\"\(text)\" has host bits set; did you mean \(network)?"
        }
    }
}
