/// The value of a Block1 or Block2 option (RFC 7959 §2.2).
///
/// ```
///  0 1 2 3 4 5 6 7      (one byte; two or three bytes extend NUM to the left)
/// +-+-+-+-+-+-+-+-+
/// |  NUM  |M| SZX |     block size = 2^(SZX + 4): 16 … 1024; SZX 7 is reserved
/// +-+-+-+-+-+-+-+-+
/// ```
public struct BlockOption: Codable, Sendable, Hashable, CustomStringConvertible {
    /// The largest block number three bytes can carry.
    public static let maxNumber: UInt32 = (1 << 20) - 1

    /// The block number, counted in blocks of `size` bytes.
    public var number: UInt32
    /// More blocks follow.
    public var more: Bool
    /// Size exponent 0…6; the block size is `16 << szx`.
    public var szx: UInt8

    /// A block option; throws if SZX is 7 or more, or NUM exceeds 20 bits.
    public init(number: UInt32, more: Bool, szx: UInt8) throws(BlockOptionError) {
        guard szx <= 6 else { throw .reservedSZX(szx) }
        guard number <= Self.maxNumber else { throw .numberTooLarge(number) }
        self.number = number
        self.more = more
        self.szx = szx
    }

    /// A block option for a block size of 16, 32, …, 1024 bytes.
    public init(number: UInt32, more: Bool, size: Int) throws(BlockOptionError) {
        guard let szx = Self.szx(forSize: size) else { throw .invalidSize(size) }
        try self.init(number: number, more: more, szx: szx)
    }

    /// Parses the option's `uint` value (0–3 bytes).
    public init(_ option: CoAPOption) throws(BlockOptionError) {
        guard option.value.count <= 3, let v = option.uintValue else { throw .valueTooLong(option.value.count) }
        try self.init(number: v >> 4, more: v & 0x08 != 0, szx: UInt8(v & 0x07))
    }

    /// The block size in bytes, 16…1024.
    public var size: Int { 16 << Int(szx) }
    /// The byte offset of this block in the whole body.
    public var offset: Int { Int(number) * size }

    /// The option's `uint` value.
    public var value: UInt32 { number << 4 | (more ? 0x08 : 0) | UInt32(szx) }

    /// The option for `number` (`.block1` or `.block2`), in its minimal length.
    public func option(_ number: CoAPOptionNumber) -> CoAPOption { CoAPOption(number, uint: value) }

    /// The SZX for a power-of-two size between 16 and 1024.
    public static func szx(forSize size: Int) -> UInt8? {
        guard size >= 16, size <= 1024, size & (size - 1) == 0 else { return nil }
        return UInt8(size.trailingZeroBitCount - 4)
    }

    public var description: String { "\(number)/\(more ? 1 : 0)/\(size)" }
}

/// Why a Block1/Block2 option value is unusable.
public enum BlockOptionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// SZX 7 is reserved (RFC 7959 §2.2).
    case reservedSZX(UInt8)
    /// The block number does not fit in 20 bits.
    case numberTooLarge(UInt32)
    /// The option value is longer than three bytes.
    case valueTooLong(Int)
    /// Not a block size: must be a power of two from 16 to 1024.
    case invalidSize(Int)

    public var description: String {
        switch self {
        case .reservedSZX(let s): "block option SZX \(s) is reserved; use 0-6 (16-1024 byte blocks)"
        case .numberTooLarge(let n): "block number \(n) does not fit in the option's 20 bits"
        case .valueTooLong(let n): "block option value of \(n) bytes; at most 3 are allowed"
        case .invalidSize(let s): "block size \(s) is not a power of two from 16 to 1024"
        }
    }
}

extension CoAPMessage {
    /// The Block1 option, `nil` when absent; throws when present but malformed.
    public func block1() throws(BlockOptionError) -> BlockOption? {
        guard let o = option(.block1) else { return nil }
        return try BlockOption(o)
    }

    /// The Block2 option, `nil` when absent; throws when present but malformed.
    public func block2() throws(BlockOptionError) -> BlockOption? {
        guard let o = option(.block2) else { return nil }
        return try BlockOption(o)
    }
}
