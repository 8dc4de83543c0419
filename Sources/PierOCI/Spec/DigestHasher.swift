import Crypto
import Foundation

/// Incremental sha256 over a stream of bytes, counting them as it goes.
public struct DigestHasher {
    private var hash = SHA256()
    /// Bytes hashed so far.
    public private(set) var count: Int64 = 0

    public init() {}

    /// Adds `data` to the hash.
    public mutating func update<D: DataProtocol>(_ data: D) {
        hash.update(data: data)
        count += Int64(data.count)
    }

    /// Adds the bytes in `buffer` to the hash.
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: buffer)
        count += Int64(buffer.count)
    }

    /// The digest of everything added so far. The hasher may keep being used afterwards.
    public func finalize() -> Digest {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in hash.finalize() {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return Digest(uncheckedSHA256Hex: String(decoding: hex, as: UTF8.self))
    }
}
