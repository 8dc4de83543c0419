import PierCluster

/// Checks of list-valued service flags, shared by create and update so a bad value is refused
/// before anything is sent, with the flag named.
enum ServiceFlagValues {
    static func constraint(_ text: String, flag: String) throws(ClientError) -> String {
        do { _ = try Constraint(parsing: text) } catch { throw .invalidArgument("\(flag): \(error)") }
        return text
    }

    static func placementPreference(_ text: String, flag: String) throws(ClientError) -> String {
        do { _ = try PlacementPreference(parsing: text) } catch { throw .invalidArgument("\(flag): \(error)") }
        return text
    }

    /// `HOST:CONTAINER[/udp]` or `IP:HOST:CONTAINER[/proto]`.
    static func publish(_ text: String, flag: String) throws(ClientError) -> String {
        do { _ = try PortClaim.parse(text) } catch {
            let reason: String
            if case .invalidField(_, let why) = error { reason = why } else { reason = "\(error)" }
            throw .invalidArgument("\(flag) \"\(text)\": \(reason); write HOST:CONTAINER[/udp], e.g. 8080:80")
        }
        return text
    }

    /// `HOST[:CONTAINER][:rwm]` with an absolute host path.
    static func device(_ text: String, flag: String) throws(ClientError) -> String {
        guard text.hasPrefix("/") else {
            throw .invalidArgument("\(flag) \"\(text)\": the host path must be absolute, e.g. /dev/gpiochip0 or /dev/ttyUSB0:/dev/ttyS0:rw")
        }
        return text
    }

    /// `HOST:CONTAINER[:ro|rw]`.
    static func volume(_ text: String, flag: String) throws(ClientError) -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), !parts[0].isEmpty, parts[1].hasPrefix("/"),
              parts.count == 2 || parts[2] == "ro" || parts[2] == "rw" else {
            throw .invalidArgument("\(flag) \"\(text)\": write HOST:CONTAINER[:ro], e.g. /var/lib/sensor:/data:ro")
        }
        return text
    }

    /// `KEY=VALUE`, a bare `KEY` having an empty value.
    static func label(_ entry: String, flag: String) throws(ClientError) -> (key: String, value: String) {
        let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0])
        guard !key.isEmpty else { throw .invalidArgument("\(flag) \"\(entry)\": the key is empty; write KEY=VALUE") }
        return (key, parts.count > 1 ? String(parts[1]) : "")
    }

    static func labels(_ entries: [String], flag: String) throws(ClientError) -> [String: String] {
        var labels: [String: String] = [:]
        for entry in entries {
            let (key, value) = try label(entry, flag: flag)
            labels[key] = value
        }
        return labels
    }

    /// The variable name of an env entry (`KEY=VALUE` or `KEY`).
    static func envKey(_ entry: String) -> Substring {
        entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    /// The container side of a publish entry as `PORT/proto` (`8080:80` → `80/tcp`).
    static func publishTarget(_ entry: String) -> String {
        let (ports, proto) = splitProtocol(entry)
        let target = ports.split(separator: ":").last.map(String.init) ?? ports
        return "\(target)/\(proto)"
    }

    static func splitProtocol(_ entry: String) -> (String, String) {
        guard let slash = entry.lastIndex(of: "/") else { return (entry, "tcp") }
        return (String(entry[..<slash]), String(entry[entry.index(after: slash)...]).lowercased())
    }
}
