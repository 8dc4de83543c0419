import PierSpec
import PierClient

/// Reads `pier run`'s command line without ArgumentParser, for the activation path.
///
/// ArgumentParser's first parse in a process builds the whole command tree by reflection, and
/// every type it meets costs a scan of the runtime's protocol conformance records (about 13,000
/// in this binary): ~5 ms of the ~10 ms the client took for `pier run --rm IMG /bin/true`, as
/// much as the agent's own part of it. This reads the forms users type — `--flag`, `--option
/// VALUE`, `--option=VALUE`, `-x VALUE` for the one-letter ones — into the same `RunOptions`,
/// with `switch`es only (no dictionaries or closures: their generic metadata would cost
/// runtime lookups again). Anything else (`--help`, an unknown option, a cluster like `-dit`,
/// an option that takes one value given twice, a value that is empty, starts with `-` or is
/// not a number where one is needed, `--` before the image, `---x` or `-=x` after it) returns nil, and ArgumentParser
/// reads the command line as always, so its errors and help are unchanged.
/// `RunFastPathTests` checks that both agree.
enum RunFastPath {
    struct Parsed: Equatable {
        var options: RunOptions
        var client: ClientSettings
    }

    private enum Kind { case flag, single, repeated }

    /// Every name `pier run` (with its `ClientOptions`) accepts, for the test that compares parsers.
    static let optionNames = [
        "-H", "--host", "--tls-dir", "-d", "--detach", "--rm", "--name", "-e", "--env", "--env-file", "-w", "--workdir",
        "-u", "--user", "--hostname", "--read-only", "-v", "--volume", "--device", "-m", "--memory", "--cpus",
        "--pids-limit", "--network", "-p", "--publish", "--restart", "--health-cmd", "--health-interval",
        "--health-timeout", "--health-retries", "--health-start-period", "-l", "--label", "--cap-add", "--cap-drop",
        "--entrypoint", "--stop-signal", "--log-opt", "--privileged", "--security-opt", "--tmpfs", "--mount", "--ulimit",
        "--shm-size", "--sysctl", "--init", "--userns",
    ]

    /// The option's long name (one per option, whichever name was used) and kind; nil: unknown.
    private static func lookUp(_ name: String) -> (String, Kind)? {
        switch name {
        case "-H", "--host": return ("--host", .single)
        case "-d", "--detach": return ("--detach", .flag)
        case "--rm", "--read-only", "--privileged", "--init": return (name, .flag)
        case "-e", "--env": return ("--env", .repeated)
        case "-w", "--workdir": return ("--workdir", .single)
        case "-u", "--user": return ("--user", .single)
        case "-v", "--volume": return ("--volume", .repeated)
        case "-m", "--memory": return ("--memory", .single)
        case "-p", "--publish": return ("--publish", .repeated)
        case "-l", "--label": return ("--label", .repeated)
        case "--env-file", "--device", "--cap-add", "--cap-drop", "--log-opt", "--security-opt", "--tmpfs", "--mount", "--ulimit",
            "--sysctl":
            return (name, .repeated)
        case "--tls-dir", "--name", "--hostname", "--cpus", "--pids-limit", "--network", "--restart", "--health-cmd",
            "--health-interval", "--health-timeout", "--health-retries", "--health-start-period", "--entrypoint",
            "--stop-signal", "--shm-size", "--userns":
            return (name, .single)
        default: return nil
        }
    }

    /// Sets option `name` (a long name from `lookUp`); false: a value ArgumentParser would refuse.
    private static func apply(_ name: String, _ value: String, to p: inout Parsed) -> Bool {
        switch name {
        case "--host": p.client.host = value
        case "--tls-dir": p.client.tlsDir = value
        case "--detach": p.options.detach = true
        case "--rm": p.options.autoRemove = true
        case "--read-only": p.options.readOnly = true
        case "--name": p.options.name = value
        case "--env": p.options.env.append(value)
        case "--env-file": p.options.envFiles.append(value)
        case "--workdir": p.options.workdir = value
        case "--user": p.options.user = value
        case "--hostname": p.options.hostname = value
        case "--volume": p.options.volumes.append(value)
        case "--device": p.options.devices.append(value)
        case "--memory": p.options.memory = value
        case "--cpus":
            guard let n = Double(value) else { return false }
            p.options.cpus = n
        case "--pids-limit":
            guard let n = Int(value) else { return false }
            p.options.pidsLimit = n
        case "--network": p.options.network = value
        case "--publish": p.options.publish.append(value)
        case "--restart": p.options.restart = value
        case "--health-cmd": p.options.healthCmd = value
        case "--health-interval": p.options.healthInterval = value
        case "--health-timeout": p.options.healthTimeout = value
        case "--health-retries":
            guard let n = Int(value) else { return false }
            p.options.healthRetries = n
        case "--health-start-period": p.options.healthStartPeriod = value
        case "--label": p.options.labels.append(value)
        case "--cap-add": p.options.capAdd.append(value)
        case "--cap-drop": p.options.capDrop.append(value)
        case "--entrypoint": p.options.entrypoint = value
        case "--stop-signal": p.options.stopSignal = value
        case "--log-opt": p.options.logOpts.append(value)
        case "--privileged": p.options.privileged = true
        case "--init": p.options.initProcess = true
        case "--security-opt": p.options.securityOpts.append(value)
        case "--tmpfs": p.options.tmpfs.append(value)
        case "--mount": p.options.mounts.append(value)
        case "--ulimit": p.options.ulimits.append(value)
        case "--sysctl": p.options.sysctls.append(value)
        case "--shm-size": p.options.shmSize = value
        case "--userns": p.options.userns = value
        default: return false
        }
        return true
    }

    /// `arguments` start with `run` (global options already hoisted); nil: leave it to ArgumentParser.
    static func parse(_ arguments: [String]) -> Parsed? {
        guard arguments.first == "run" else { return nil }
        var parsed = Parsed(options: RunOptions(image: ""), client: ClientSettings())
        var given: [String] = []  // single-value options and flags so far, by long name
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument != "-" else {
                // The image; everything after it is the container's command, as given. Up to a
                // `--`, ArgumentParser still refuses `---…` and `-=…` there.
                let command = Array(arguments[index...])
                for word in command.prefix(while: { $0 != "--" }) where word.hasPrefix("---") || word.hasPrefix("-=") {
                    return nil
                }
                parsed.options.image = argument
                parsed.options.command = command
                return parsed
            }
            var name = argument
            var inline: String?
            if argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") {
                name = String(argument[..<eq])
                inline = String(argument[argument.index(after: eq)...])
            }
            guard let (long, kind) = lookUp(name) else { return nil }  // --help, --, unknown, -dit, …
            if kind != .repeated {
                guard !given.contains(long) else { return nil }
                given.append(long)
            }
            var value = ""
            if kind == .flag {
                guard inline == nil else { return nil }
            } else if let inline {
                value = inline
            } else {
                guard index < arguments.count else { return nil }
                value = arguments[index]
                index += 1
            }
            if kind != .flag { guard !value.isEmpty, !value.hasPrefix("-") else { return nil } }
            guard apply(long, value, to: &parsed) else { return nil }
        }
        return nil  // no image
    }
}
