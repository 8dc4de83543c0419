import Foundation

/// A seccomp profile that cannot be used; the message names the field and what is accepted.
public struct SeccompProfileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "seccomp profile: \(message)" }
}

/// Docker's profile format (moby `profiles/seccomp`): `defaultAction`, `defaultErrnoRet`,
/// `architectures` or `archMap`, and `syscalls` with `names`, `action`, `errnoRet`, `args`,
/// `includes` and `excludes` (`caps`, `arches`, `minKernel`). Read strictly: an unknown field,
/// action, architecture, capability or system call is an error naming it, because runc would
/// silently ignore an unknown call and the container would run less confined than its author meant.
extension SeccompPolicy {
    /// Every architecture libseccomp knows, by runtime-spec name; those Pier does not run on are
    /// accepted and left out of the filter.
    static let specArchitectures: Set<String> = [
        "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
        "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64",
    ]

    /// `includes.arches` names (Go's and libseccomp's) → Pier's architecture; nil: known but foreign.
    static let ruleArchitectures: [String: SeccompArchitecture?] = [
        "amd64": .x86_64, "x86_64": .x86_64, "386": .x86, "x86": .x86, "x32": .x32, "arm64": .aarch64,
        "aarch64": .aarch64, "arm": .arm, "mips": nil, "mipsle": nil, "mips64": nil, "mips64le": nil,
        "mips64n32": nil, "mipsel64": nil, "mipsel64n32": nil, "mipsel": nil, "ppc": nil, "ppc64": nil,
        "ppc64le": nil, "s390": nil, "s390x": nil, "parisc": nil, "parisc64": nil, "riscv64": nil, "loong64": nil,
        "loongarch64": nil,
    ]

    static let comparisons: Set<String> = [
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
    ]

    /// Profiles larger than this are refused before they are parsed.
    public static let maximumProfileSize = 1 << 20

    /// Parses and checks a Docker-format profile.
    public init(dockerProfile data: Data) throws {
        guard data.count <= Self.maximumProfileSize else {
            throw SeccompProfileError("\(data.count) bytes is larger than the limit of \(Self.maximumProfileSize) bytes")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw SeccompProfileError("not valid JSON (\(Self.reason(error)))")
        }
        guard let top = object as? [String: Any] else { throw SeccompProfileError("expected a JSON object at the top") }
        try Self.checkKeys(top, allowed: ["defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls", "flags", "comment"], at: "")
        if top["listenerPath"] != nil {
            throw SeccompProfileError("listenerPath: SCMP_ACT_NOTIFY profiles are not supported")
        }
        guard let defaultName = top["defaultAction"] as? String else {
            throw SeccompProfileError("defaultAction is missing; give e.g. \"SCMP_ACT_ERRNO\"")
        }
        let defaultErrno = try Self.number(top["defaultErrnoRet"], at: "defaultErrnoRet").map { try Self.errno($0, at: "defaultErrnoRet") }
        guard let defaultAction = SeccompAction.parse(defaultName, number: defaultErrno) else {
            throw SeccompProfileError("defaultAction \"\(defaultName)\" is not an action; use \(Self.actionNames)")
        }

        var named: [String] = []
        if let list = top["architectures"] {
            guard let names = list as? [String] else { throw SeccompProfileError("architectures: expected a list of names such as SCMP_ARCH_X86_64") }
            named += names
        }
        if let map = top["archMap"] {
            guard let entries = map as? [[String: Any]] else { throw SeccompProfileError("archMap: expected a list of objects") }
            for (i, entry) in entries.enumerated() {
                try Self.checkKeys(entry, allowed: ["architecture", "subArchitectures"], at: "archMap[\(i)].")
                guard let arch = entry["architecture"] as? String else { throw SeccompProfileError("archMap[\(i)].architecture is missing") }
                let subs = entry["subArchitectures"] as? [String] ?? []
                if entry["subArchitectures"] != nil && !(entry["subArchitectures"] is [String]) {
                    throw SeccompProfileError("archMap[\(i)].subArchitectures: expected a list of names")
                }
                // Docker's rule: the native architecture's entry (and its subarchitectures) only.
                if SeccompArchitecture(specName: arch) == SeccompArchitecture.native { named += [arch] + subs }
                for name in [arch] + subs where !Self.specArchitectures.contains(name) {
                    throw SeccompProfileError("archMap[\(i)]: unknown architecture \"\(name)\"; use names such as SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64")
                }
            }
        }
        for name in named where !Self.specArchitectures.contains(name) {
            throw SeccompProfileError("unknown architecture \"\(name)\"; use names such as SCMP_ARCH_X86_64 or SCMP_ARCH_AARCH64")
        }
        let ours = named.compactMap(SeccompArchitecture.init(specName:))
        var seen = Set<SeccompArchitecture>()
        let architectures = ours.filter { seen.insert($0).inserted }

        if let flags = top["flags"] {
            guard let list = flags as? [String] else { throw SeccompProfileError("flags: expected a list") }
            for flag in list where !["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"].contains(flag) {
                throw SeccompProfileError("flags: unknown flag \"\(flag)\"")
            }
        }

        var rules: [SeccompRule] = []
        if let list = top["syscalls"] {
            guard let entries = list as? [[String: Any]] else { throw SeccompProfileError("syscalls: expected a list of objects") }
            for (i, entry) in entries.enumerated() { rules.append(try Self.rule(entry, at: "syscalls[\(i)]")) }
        }
        self.init(defaultAction: defaultAction, architectures: architectures.isEmpty ? nil : architectures, rules: rules)
    }

    private static let actionNames =
        "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_LOG or SCMP_ACT_TRACE"

    private static func rule(_ entry: [String: Any], at path: String) throws -> SeccompRule {
        try checkKeys(entry, allowed: ["name", "names", "action", "errnoRet", "args", "comment", "includes", "excludes"], at: path + ".")
        var names: [String] = []
        if let name = entry["name"] {
            guard let name = name as? String else { throw SeccompProfileError("\(path).name: expected a string") }
            names.append(name)
        }
        if let list = entry["names"] {
            guard let list = list as? [String] else { throw SeccompProfileError("\(path).names: expected a list of strings") }
            names += list
        }
        guard !names.isEmpty else { throw SeccompProfileError("\(path): names is missing or empty") }
        guard let actionName = entry["action"] as? String else { throw SeccompProfileError("\(path).action is missing") }
        let errnoRet = try number(entry["errnoRet"], at: "\(path).errnoRet").map { try errno($0, at: "\(path).errnoRet") }
        guard let action = SeccompAction.parse(actionName, number: errnoRet) else {
            throw SeccompProfileError("\(path).action \"\(actionName)\" is not an action; use \(actionNames)")
        }
        var args: [SeccompArgument] = []
        if let list = entry["args"], !(list is NSNull) {
            guard let list = list as? [[String: Any]] else { throw SeccompProfileError("\(path).args: expected a list of objects") }
            for (j, arg) in list.enumerated() {
                let at = "\(path).args[\(j)]"
                try checkKeys(arg, allowed: ["index", "value", "valueTwo", "op"], at: at + ".")
                guard let index = try number(arg["index"], at: at + ".index"), index < 6 else {
                    throw SeccompProfileError("\(at).index: give the argument's position, 0 to 5")
                }
                guard let value = try number(arg["value"], at: at + ".value") else { throw SeccompProfileError("\(at).value is missing") }
                let valueTwo = try number(arg["valueTwo"], at: at + ".valueTwo")
                guard let op = arg["op"] as? String, comparisons.contains(op) else {
                    throw SeccompProfileError("\(at).op \"\(arg["op"].map { "\($0)" } ?? "")\" is not a comparison; use one of \(comparisons.sorted().joined(separator: ", "))")
                }
                args.append(.init(index: UInt(index), value: value, valueTwo: valueTwo, op: op))
            }
        }
        var rule = SeccompRule(names, action, args: args)
        var foreignArches = false
        if let includes = entry["includes"] {
            guard let includes = includes as? [String: Any] else { throw SeccompProfileError("\(path).includes: expected an object") }
            try checkKeys(includes, allowed: ["caps", "arches", "minKernel"], at: "\(path).includes.")
            rule.requiresCapabilities = try capabilities(includes["caps"], at: "\(path).includes.caps")
            let (ours, foreign) = try arches(includes["arches"], at: "\(path).includes.arches")
            rule.onlyOn = ours
            foreignArches = ours.isEmpty && foreign
            rule.foreignOnly = foreignArches
            if let text = includes["minKernel"] {
                guard let text = text as? String, let version = KernelVersion(parsing: text) else {
                    throw SeccompProfileError("\(path).includes.minKernel: expected a version such as \"4.8\"")
                }
                rule.minKernel = version
            }
        }
        if let excludes = entry["excludes"] {
            guard let excludes = excludes as? [String: Any] else { throw SeccompProfileError("\(path).excludes: expected an object") }
            try checkKeys(excludes, allowed: ["caps", "arches"], at: "\(path).excludes.")
            rule.unlessCapabilities = try capabilities(excludes["caps"], at: "\(path).excludes.caps")
            rule.notOn = try arches(excludes["arches"], at: "\(path).excludes.arches").0
        }
        // Calls of architectures Pier does not run on (s390's, powerpc's) are only checked there.
        if !foreignArches {
            let unknown = names.filter { !SyscallTable.isKnown($0) }
            if !unknown.isEmpty {
                throw SeccompProfileError(
                    "\(path): unknown system call\(unknown.count == 1 ? "" : "s") \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")) (on x86_64, x86, x32, aarch64 and arm)")
            }
        }
        return rule
    }

    private static func capabilities(_ value: Any?, at path: String) throws -> [String] {
        guard let value else { return [] }
        guard let list = value as? [String] else { throw SeccompProfileError("\(path): expected a list of capability names") }
        return try list.map { name in
            let full = name.uppercased().hasPrefix("CAP_") ? name.uppercased() : "CAP_" + name.uppercased()
            guard Capabilities.all.contains(full) else { throw SeccompProfileError("\(path): unknown capability \"\(name)\"") }
            return full
        }
    }

    private static func arches(_ value: Any?, at path: String) throws -> ([SeccompArchitecture], Bool) {
        guard let value else { return ([], false) }
        guard let list = value as? [String] else { throw SeccompProfileError("\(path): expected a list of architecture names") }
        var ours: [SeccompArchitecture] = []
        var foreign = false
        for name in list {
            guard let entry = ruleArchitectures[name] else {
                throw SeccompProfileError("\(path): unknown architecture \"\(name)\"; use names such as amd64, arm64 or arm")
            }
            if let arch = entry { ours.append(arch) } else { foreign = true }
        }
        return (ours, foreign)
    }

    private static func checkKeys(_ object: [String: Any], allowed: Set<String>, at path: String) throws {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw SeccompProfileError("unknown field \"\(path)\(unknown)\"; known: \(allowed.sorted().joined(separator: ", "))")
        }
    }

    /// A non-negative integer that fits 64 bits, or nil when absent.
    private static func number(_ value: Any?, at path: String) throws -> UInt64? {
        guard let value, !(value is NSNull) else { return nil }
        // JSON true/false decode as NSNumbers too; their type code is `c`.
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else {
            throw SeccompProfileError("\(path): expected a number")
        }
        let d = n.doubleValue
        guard d >= 0, d == d.rounded(), d <= 18_446_744_073_709_551_615.0 else {
            throw SeccompProfileError("\(path): expected a whole number from 0 to 2^64-1")
        }
        return n.uint64Value
    }

    private static func errno(_ value: UInt64, at path: String) throws -> UInt32 {
        guard value >= 1, value <= 4095 else { throw SeccompProfileError("\(path): an errno is 1 to 4095") }
        return UInt32(value)
    }

    private static func reason(_ error: Error) -> String {
        let ns = error as NSError
        return (ns.userInfo["NSDebugDescription"] as? String) ?? ns.localizedDescription
    }
}
