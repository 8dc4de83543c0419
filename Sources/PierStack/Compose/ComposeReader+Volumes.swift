extension ComposeReader {
    static let volumeExpected = "expected a bind mount HOST_PATH:CONTAINER_PATH[:ro] such as ./data:/data or /srv/config:/config:ro"

    /// `volumes`: bind mounts only, short (`./data:/data:ro`) and long (`type: bind`) syntax, as
    /// `pier run --volume` values. Relative host paths are resolved against the compose file's
    /// directory; named and anonymous volumes are refused (Pier has no volume store).
    mutating func volumes(_ value: YAMLValue, _ path: String) -> [String] {
        guard let items = list(value, path, of: "bind mounts") else { return [] }
        var out: [String] = []
        var seen: [String: Int] = [:]
        for (i, item) in items.enumerated() {
            let p = Self.index(path, i)
            let mount: (source: String, target: String, readOnly: Bool)?
            if case .mapping = item { mount = longVolume(item, p) } else { mount = shortVolume(item, p) }
            guard let mount else { continue }
            if let first = seen[mount.target] {
                invalid(p, "container path \(mount.target) is already mounted by \(Self.index(path, first)); mount each container path once")
                continue
            }
            seen[mount.target] = i
            out.append("\(mount.source):\(mount.target)\(mount.readOnly ? ":ro" : "")")
        }
        return out
    }

    private mutating func shortVolume(_ value: YAMLValue, _ path: String) -> (source: String, target: String, readOnly: Bool)? {
        guard let text = word(value, path, what: Self.volumeExpected) else {
            if value == .null { invalid(path, "is empty; \(Self.volumeExpected)") }
            return nil
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            if parts.count == 1 {
                invalid(path, "\"\(text)\" is an anonymous volume, which Pier does not have; \(Self.volumeExpected)")
            } else {
                invalid(path, "\"\(text)\" is not a bind mount; \(Self.volumeExpected)")
            }
            return nil
        }
        var readOnly = false
        if parts.count == 3 {
            for option in parts[2].split(separator: ",", omittingEmptySubsequences: false) {
                switch option {
                case "ro": readOnly = true
                case "rw": break
                default:
                    invalid(path, "\"\(text)\": mount option \"\(option)\" is not supported; expected ro or rw")
                    return nil
                }
            }
        }
        guard let source = hostPath(parts[0], path, text: text), let target = containerPath(parts[1], path, text: text) else {
            return nil
        }
        return (source, target, readOnly)
    }

    private mutating func longVolume(_ value: YAMLValue, _ path: String) -> (source: String, target: String, readOnly: Bool)? {
        let hints = [
            "bind": "not supported: bind options (propagation, create_host_path, selinux) are not implemented; create the host path first",
            "volume": "not supported: Pier has no named volumes; use type: bind",
            "tmpfs": "not supported: Pier has no tmpfs mounts yet",
            "consistency": "not supported: it only matters on Docker Desktop",
        ]
        guard let f = mapping(value, path, allowed: ["type", "source", "target", "read_only"], hints: hints) else { return nil }
        let before = problems.count
        if let v = f["type"], let type = string(v, Self.join(path, "type")) {
            if type != "bind" {
                invalid(Self.join(path, "type"), "\"\(type)\" is not supported; Pier mounts host paths only (type: bind)")
                return nil
            }
        } else {
            invalid(Self.join(path, "type"), "is required; write type: bind")
        }
        var source: String?
        if let v = f["source"], let s = word(v, Self.join(path, "source"), what: "a host path") {
            source = hostPath(s, Self.join(path, "source"), text: s)
        } else if f["source"] == nil || f["source"] == .null {
            invalid(Self.join(path, "source"), "is required: the host path to mount")
        }
        var target: String?
        if let v = f["target"], let s = word(v, Self.join(path, "target"), what: "a container path") {
            target = containerPath(s, Self.join(path, "target"), text: s)
        } else if f["target"] == nil || f["target"] == .null {
            invalid(Self.join(path, "target"), "is required: the path inside the container")
        }
        let readOnly = f["read_only"].flatMap { bool($0, Self.join(path, "read_only")) } ?? false
        guard problems.count == before, let source, let target else { return nil }
        return (source, target, readOnly)
    }

    /// An absolute, normalized host path; relative ones (`./x`, `../x`, `.`) against `directory`.
    private mutating func hostPath(_ raw: String, _ path: String, text: String) -> String? {
        if raw.contains(":") {
            invalid(path, "\"\(text)\": the host path contains ':', which a bind mount cannot express")
            return nil
        }
        if raw.hasPrefix("/") { return Self.normalize(raw) }
        if raw == "." || raw == ".." || raw.hasPrefix("./") || raw.hasPrefix("../") {
            return Self.normalize(directory + "/" + raw)
        }
        if raw.hasPrefix("~") {
            invalid(path, "\"\(text)\": host paths starting with ~ are not expanded; give an absolute path or one relative to the compose file (./data)")
            return nil
        }
        invalid(path, "\"\(text)\": \"\(raw)\" is a named volume, which Pier does not have; bind a host directory instead (./\(raw) or /srv/\(raw))")
        return nil
    }

    private mutating func containerPath(_ raw: String, _ path: String, text: String) -> String? {
        let normalized = Self.normalize(raw)
        guard raw.hasPrefix("/"), normalized != "/", !raw.split(separator: "/").contains("..") else {
            invalid(path, "\"\(text)\": the container path \"\(raw)\" must be absolute, not /, and without '..'")
            return nil
        }
        return normalized
    }

    /// Collapses `//`, `.` and `..` (never above `/`).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
