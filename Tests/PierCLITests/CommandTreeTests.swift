import ArgumentParser
import Testing

@testable import pier

/// Every command of the tree can be parsed: two flags of one command (its own or an option group's)
/// sharing a name make ArgumentParser refuse the whole command at run time, which only `--help`
/// or a real start would otherwise show.
@Suite struct CommandTreeTests {
    private static func commands(_ command: any ParsableCommand.Type, path: [String]) -> [(path: [String], type: any ParsableCommand.Type)] {
        let configuration = command.configuration
        var out = [(path, command)]
        for sub in configuration.subcommands {
            let name = sub.configuration.commandName ?? String(describing: sub).lowercased()
            out += commands(sub, path: path + [name])
        }
        return out
    }

    @Test func everyCommandParsesWithoutConflictingNames() {
        let all = Self.commands(Pier.self, path: [])
        #expect(all.count > 40, "the tree walk found only \(all.count) commands")
        for (path, _) in all {
            // `--help` parses to the help command, or throws the request for it; a conflict
            // between names throws ArgumentParser's validation error instead.
            do {
                _ = try Pier.parseAsRoot(path + ["--help"])
            } catch {
                let message = Pier.message(for: error)
                #expect(Pier.exitCode(for: error) == .success && !message.contains("are named"),
                        "pier \(path.joined(separator: " ")) --help: \(message.prefix(300))")
            }
        }
    }
}
