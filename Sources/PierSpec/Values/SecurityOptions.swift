import Foundation

/// Which seccomp filter a container gets.
public enum SeccompMode: Sendable, Hashable {
    /// Pier's default policy, resolved against the container's capabilities.
    case pierDefault
    /// No filter (`--security-opt seccomp=unconfined`, and every `--privileged` container).
    case unconfined
    /// A Docker-format profile the user gave.
    case profile(SeccompPolicy)
}

/// `--security-opt` values as Docker spells them: `seccomp=unconfined`, `seccomp=PROFILE` (the
/// profile's JSON, which the client reads from the file), `apparmor=NAME`,
/// `no-new-privileges[=true|false]`; `KEY:VALUE` is read as `KEY=VALUE`. SELinux `label=…` is
/// refused: Pier's nodes have no SELinux.
public struct SecurityOptions: Sendable, Hashable {
    public var seccomp: SeccompMode = .pierDefault
    /// Whether the process may not gain privileges through setuid binaries (Pier's default: true).
    public var noNewPrivileges = true
    /// An AppArmor profile to run under; nil: Pier's default where the kernel has AppArmor.
    public var apparmor: String?

    public init(seccomp: SeccompMode = .pierDefault, noNewPrivileges: Bool = true, apparmor: String? = nil) {
        self.seccomp = seccomp; self.noNewPrivileges = noNewPrivileges; self.apparmor = apparmor
    }

    static let flag = "--security-opt"

    public init(parsing entries: [String]) throws {
        self.init()
        var given = Set<String>()
        for entry in entries {
            let separator = entry.firstIndex { $0 == "=" || $0 == ":" }
            let key = separator.map { String(entry[..<$0]) } ?? entry
            let value = separator.map { String(entry[entry.index(after: $0)...]) }
            guard given.insert(key).inserted else {
                throw ContainerSpecError.conflict("\(Self.flag) \(key) is given twice; give it once")
            }
            switch key {
            case "seccomp":
                guard let value, !value.isEmpty else {
                    throw ContainerSpecError.invalid(
                        flag: Self.flag, value: entry, expected: "write seccomp=unconfined or seccomp=PROFILE.json")
                }
                if value == "unconfined" {
                    seccomp = .unconfined
                } else if value.first != "{", !value.contains("\n"), value.hasSuffix(".json") || value.hasPrefix("/") || value.hasPrefix(".") {
                    throw ContainerSpecError.invalid(
                        flag: Self.flag, value: entry,
                        expected: "give unconfined or a profile's JSON (pier's client reads a profile file and sends its JSON)")
                } else {
                    do {
                        seccomp = .profile(try SeccompPolicy(dockerProfile: Data(value.utf8)))
                    } catch let error as SeccompProfileError {
                        throw ContainerSpecError.invalid(flag: "\(Self.flag) seccomp", value: "PROFILE", expected: error.description)
                    }
                }
            case "no-new-privileges":
                switch value {
                case nil, "true": noNewPrivileges = true
                case "false": noNewPrivileges = false
                default:
                    throw ContainerSpecError.invalid(flag: Self.flag, value: entry, expected: "write no-new-privileges, or =true / =false")
                }
            case "apparmor":
                guard let value, Self.isProfileName(value) else {
                    throw ContainerSpecError.invalid(
                        flag: Self.flag, value: entry,
                        expected: "write apparmor=PROFILE (a loaded profile's name: letters, digits, and - _ . / only) or apparmor=unconfined")
                }
                apparmor = value
            case "label":
                throw ContainerSpecError.invalid(
                    flag: Self.flag, value: entry, expected: "SELinux labels are not supported: Pier's nodes run without SELinux")
            default:
                throw ContainerSpecError.invalid(
                    flag: Self.flag, value: entry, expected: "unknown option; use seccomp=, apparmor=, no-new-privileges")
            }
        }
    }

    static func isProfileName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 255
            && name.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_./".unicodeScalars.contains($0))
            }
    }
}
