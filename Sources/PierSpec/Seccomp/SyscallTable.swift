/// The system call names libseccomp knows per architecture (generated into
/// `SyscallTable+Names.swift`), so that a policy resolves to the calls that exist where it runs
/// and a profile naming a call no architecture has is refused rather than silently ignored by runc.
public enum SyscallTable {
    private static let tables: [SeccompArchitecture: Set<String>] = {
        var result: [SeccompArchitecture: Set<String>] = [:]
        for architecture in SeccompArchitecture.allCases {
            result[architecture] = Set(namesText(architecture).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        }
        return result
    }()

    private static let everyName: Set<String> = tables.values.reduce(into: Set<String>()) { $0.formUnion($1) }

    /// The names `architecture` has.
    public static func names(_ architecture: SeccompArchitecture) -> Set<String> { tables[architecture] ?? [] }

    /// Whether any of `architectures` has `name`.
    public static func exists(_ name: String, on architectures: [SeccompArchitecture]) -> Bool {
        architectures.contains { tables[$0]?.contains(name) == true }
    }

    /// Whether any architecture Pier knows has `name`.
    public static func isKnown(_ name: String) -> Bool { everyName.contains(name) }
}
