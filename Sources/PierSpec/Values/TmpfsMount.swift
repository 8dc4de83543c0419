/// `--tmpfs /path[:OPTIONS]` or `--mount type=tmpfs,…`: a memory-backed directory in the
/// container, by default `noexec,nosuid,nodev` as Docker makes it.
public struct TmpfsMount: Sendable, Hashable {
    public var destination: String
    /// Mount options as given, checked: `size=`, `mode=`, `uid=`, `gid=`, `nr_inodes=`, and
    /// `ro`/`rw`, `exec`/`noexec`, `suid`/`nosuid`, `dev`/`nodev`, `atime` flags.
    public var options: [String]

    public init(destination: String, options: [String] = []) { self.destination = destination; self.options = options }

    static let flags: Set<String> = [
        "ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime", "relatime", "strictatime",
        "nodiratime", "diratime", "sync", "async",
    ]

    /// Parses `--tmpfs` (`/run:size=64m,mode=1777`).
    public init(parsing text: String, flag: String = "--tmpfs") throws {
        let colon = text.firstIndex(of: ":")
        let path = colon.map { String(text[..<$0]) } ?? text
        let rest = colon.map { String(text[text.index(after: $0)...]) } ?? ""
        let options = rest.isEmpty ? [] : rest.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        try self.init(destination: path, options: options, flag: flag, text: text)
    }

    /// Checks the destination and every option.
    public init(destination path: String, options: [String], flag: String, text: String) throws {
        guard path.hasPrefix("/"), BindMount.normalize(path) != "/", !path.split(separator: "/").contains("..") else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "the container path must be absolute, not /, and without '..'")
        }
        var checked: [String] = []
        for option in options {
            let parts = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if parts.count == 1 {
                guard Self.flags.contains(option) else {
                    throw ContainerSpecError.invalid(
                        flag: flag, value: text,
                        expected: "unknown tmpfs option \"\(option)\"; use size=, mode=, uid=, gid=, nr_inodes=, ro, noexec, exec, nosuid, nodev")
                }
                checked.append(option)
                continue
            }
            let (key, value) = (parts[0], parts[1])
            switch key {
            case "size":
                let size = try MemorySize(parsing: value, flag: "\(flag) size")
                checked.append("size=\(size.bytes)")
            case "mode":
                guard !value.isEmpty, value.count <= 4, let mode = UInt32(value, radix: 8), mode <= 0o7777 else {
                    throw ContainerSpecError.invalid(flag: flag, value: text, expected: "mode=\(value) is not an octal mode such as 1777 or 755")
                }
                checked.append("mode=\(String(mode, radix: 8))")
            case "uid", "gid", "nr_inodes":
                guard let n = UInt32(value) else {
                    throw ContainerSpecError.invalid(flag: flag, value: text, expected: "\(key)=\(value) is not a number from 0 to 4294967295")
                }
                checked.append("\(key)=\(n)")
            default:
                throw ContainerSpecError.invalid(
                    flag: flag, value: text, expected: "unknown tmpfs option \"\(key)\"; use size=, mode=, uid=, gid=, nr_inodes=")
            }
        }
        self.init(destination: BindMount.normalize(path), options: checked)
    }

    /// The mount options runc gets: Docker's defaults first, the user's after (the last wins).
    public var mountOptions: [String] { ["noexec", "nosuid", "nodev"] + options }
}

/// `--mount type=bind,source=…,target=…[,readonly]` or `type=tmpfs,target=…[,tmpfs-size=…][,tmpfs-mode=…]`.
public enum MountOption: Sendable, Hashable {
    case bind(BindMount)
    case tmpfs(TmpfsMount)

    public init(parsing text: String, checkHostPath: Bool = false) throws {
        let flag = "--mount"
        var fields: [String: String] = [:]
        var readOnly = false
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var key = parts[0]
            if ["src"].contains(key) { key = "source" }
            if ["dst", "destination"].contains(key) { key = "target" }
            if key == "readonly" || key == "ro" {
                guard parts.count == 1 || ["true", "1", "false", "0"].contains(parts[1]) else {
                    throw ContainerSpecError.invalid(flag: flag, value: text, expected: "readonly takes no value, or true/false")
                }
                readOnly = parts.count == 1 || parts[1] == "true" || parts[1] == "1"
                continue
            }
            guard parts.count == 2, !parts[1].isEmpty else {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "\"\(item)\" is not KEY=VALUE")
            }
            guard fields.updateValue(parts[1], forKey: key) == nil else {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "\(key) is given twice")
            }
        }
        guard let target = fields.removeValue(forKey: "target") else {
            throw ContainerSpecError.invalid(flag: flag, value: text, expected: "target= (the path in the container) is missing")
        }
        switch fields.removeValue(forKey: "type") {
        case "bind":
            guard let source = fields.removeValue(forKey: "source") else {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "source= (the host path) is missing")
            }
            if let propagation = fields.removeValue(forKey: "bind-propagation"), propagation != "rprivate" {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "bind-propagation=\(propagation): only rprivate is supported")
            }
            if let extra = fields.keys.sorted().first {
                throw ContainerSpecError.invalid(flag: flag, value: text, expected: "unknown key \"\(extra)\" for a bind mount; use source, target, readonly")
            }
            let mount = try BindMount(parsing: "\(source):\(target):\(readOnly ? "ro" : "rw")", checkHostPath: checkHostPath)
            self = .bind(mount)
        case "tmpfs":
            var options: [String] = readOnly ? ["ro"] : []
            if let size = fields.removeValue(forKey: "tmpfs-size") { options.append("size=\(size)") }
            if let mode = fields.removeValue(forKey: "tmpfs-mode") { options.append("mode=\(mode)") }
            if let extra = fields.keys.sorted().first {
                throw ContainerSpecError.invalid(
                    flag: flag, value: text, expected: "unknown key \"\(extra)\" for a tmpfs mount; use target, tmpfs-size, tmpfs-mode, readonly")
            }
            self = .tmpfs(try TmpfsMount(destination: target, options: options, flag: flag, text: text))
        case let other:
            throw ContainerSpecError.invalid(
                flag: flag, value: text,
                expected: "type=\(other ?? "") is not supported; use type=bind or type=tmpfs (named volumes are not supported)")
        }
    }
}
