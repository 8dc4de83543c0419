/// runtime-spec `linux.seccomp.syscalls[].args[]`. For `SCMP_CMP_MASKED_EQ`, `value` is the
/// mask and `valueTwo` what the masked argument must equal.
public struct SeccompArgument: Codable, Sendable, Hashable {
    public var index: UInt
    public var value: UInt64
    public var valueTwo: UInt64?
    public var op: String

    public init(index: UInt, value: UInt64, valueTwo: UInt64? = nil, op: String) {
        self.index = index; self.value = value; self.valueTwo = valueTwo; self.op = op
    }
}
