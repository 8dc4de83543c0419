import Foundation
import PierSpec

/// Random ids in Swarm's style: 25 lowercase letters and digits.
enum Identifiers {
    static func make(length: Int = 25) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var rng = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(rng.next(upperBound: UInt(alphabet.count)))] })
    }

    /// A DNS label: what service, stack and node names must be, since they name containers and hosts.
    static func isValidName(_ name: String) -> Bool { ObjectName.isValid(name, .label) }
}
