/// The random source of the protocol state machines: SplitMix64, seeded.
///
/// Injected so tests are repeatable; `CoAPRandom.system()` seeds it from the system generator.
/// Not for secrets: tokens from it are unpredictable only to an off-path attacker that cannot see the seed.
public struct CoAPRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that yields the same sequence for the same seed.
    public init(seed: UInt64) { state = seed }

    /// A generator seeded from the system's random source.
    public static func system() -> CoAPRandom {
        var g = SystemRandomNumberGenerator()
        return CoAPRandom(seed: g.next())
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
