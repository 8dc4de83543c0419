import ArgumentParser
import Foundation

/// Every command sets `commandName` itself: deriving it from the type name costs a runtime
/// conformance scan per command on every start, and `pier run` is on the activation benchmark.
@main
struct Pier: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pier",
        abstract: "Container orchestration for IoT gateways and edge devices.",
        discussion: """
            Global options, before the command (as `docker -H`): -H/--host ADDRESS and --tls-dir DIR \
            set the agent or manager every command talks to, like $PIER_HOST and $PIER_TLS_DIR; \
            e.g. `pier --host tcp://device:7444 --tls-dir ./admin run --rm IMAGE`.
            """,
        subcommands: [
            Run.self, Ps.self, Start.self, Stop.self, Restart.self, Kill.self, Rm.self, Exec.self, Logs.self,
            Inspect.self, Stats.self, Wait.self, ImageCommand.self, Info.self, Version.self, AgentCommand.self, ManagerCommand.self, UpCommand.self,
            ServiceCommand.self, NodeCommand.self, StackCommand.self, JoinTokenCommand.self, CertCommand.self, CACommand.self, KeyCommand.self,
            RegistryCommand.self, CoAPCommand.self,
        ]
    )

    static func main() async {
        let arguments: [String]
        do { arguments = try GlobalOptions.hoist(Array(CommandLine.arguments.dropFirst())) } catch {
            exit(withError: error)
        }
        // `pier run`, the activation path, in its usual forms: without ArgumentParser's start-up.
        if let run = RunFastPath.parse(arguments) {
            exitProcess(await ContainerRun(options: run.options, client: run.client).execute())
        }
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// `-H/--host` and `--tls-dir` given before the command name apply to it: they are moved into
/// `PIER_HOST` and `PIER_TLS_DIR`, which every command reads when it has no flag of its own.
enum GlobalOptions {
    static func hoist(_ arguments: [String]) throws -> [String] {
        var rest = arguments[...]
        while let first = rest.first, first.hasPrefix("-") {
            let (name, inline) = split(first)
            let variable: String
            switch name {
            case "-H", "--host": variable = "PIER_HOST"
            case "--tls-dir": variable = "PIER_TLS_DIR"
            default: return Array(rest)  // --help, --version, or a command's own option: leave it
            }
            rest = rest.dropFirst()
            let value: String
            if let inline {
                value = inline
            } else if let next = rest.first {
                value = next
                rest = rest.dropFirst()
            } else {
                throw ValidationError("\(name) needs a value: \(name == "--tls-dir" ? "a directory" : "unix:///PATH or tcp://HOST:PORT")")
            }
            setenv(variable, value, 1)
        }
        return Array(rest)
    }

    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
    }
}

/// Ends the process with `status` (inside `Pier`, `exit` names ArgumentParser's `exit(withError:)`).
private func exitProcess(_ status: Int32) -> Never { exit(status) }
