import Foundation

/// Random ids in Swarm's style: 25 lowercase letters and digits.
enum Identifiers {
    static func make(length: Int = 25) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(rng.next(upperBound: UInt(alphabet.count)))] })
    }

    /// A DNS label: what service, stack and node names must be, since they name containers and hosts.
    static func isValidName(_ name: String) -> Bool {
        guard (1...63).contains(name.utf8.count), let first = name.utf8.first, let last = name.utf8.last else { return false }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) }
        return alnum(first) && alnum(last) && name.utf8.allSatisfy { alnum($0) || $0 == 0x2d || $0 == 0x5f }
    }
}
