#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Platform {
    /// The platform of this machine: `linux` and the architecture `uname -m` reports, in OCI terms.
    public static let host: Platform = Platform(os: "linux", machine: currentMachine())

    /// The OCI platform for a `uname -m` machine name (`x86_64` → amd64, `aarch64` → arm64,
    /// `armv7l` → arm/v7, `armv6l` → arm/v6).
    public init(os: String = "linux", machine: String) {
        switch machine {
        case "x86_64", "amd64": self.init(os: os, architecture: "amd64")
        case "aarch64", "arm64", "armv8l", "armv8b": self.init(os: os, architecture: "arm64", variant: "v8")
        case "armv7l", "armv7", "armhf": self.init(os: os, architecture: "arm", variant: "v7")
        case "armv6l", "armv6": self.init(os: os, architecture: "arm", variant: "v6")
        case "armv5tel", "armv5l": self.init(os: os, architecture: "arm", variant: "v5")
        case "i386", "i486", "i586", "i686": self.init(os: os, architecture: "386")
        case "riscv64": self.init(os: os, architecture: "riscv64")
        case "ppc64le": self.init(os: os, architecture: "ppc64le")
        case "s390x": self.init(os: os, architecture: "s390x")
        default: self.init(os: os, architecture: machine)
        }
    }

    private static func currentMachine() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        return withUnsafeBytes(of: &name.machine) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}
