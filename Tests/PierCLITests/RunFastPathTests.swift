import ArgumentParser
import PierClient
import Testing

@testable import pier

/// `RunFastPath` must read every command line it accepts exactly as ArgumentParser reads it
/// for `pier run`, and leave the rest to ArgumentParser.
@Suite("pier run's fast parser")
struct RunFastPathTests {
    /// What ArgumentParser makes of `pier run ARGS`.
    func slow(_ arguments: [String]) throws -> RunFastPath.Parsed {
        let run = try Run.parse(Array(arguments.dropFirst()))
        return RunFastPath.Parsed(options: run.options, client: run.client.settings)
    }

    @Test("the common forms are read, and as ArgumentParser reads them")
    func commonForms() throws {
        let lines: [[String]] = [
            ["run", "--rm", "busybox", "/bin/true"],
            ["run", "--rm", "--network", "none", "bench/busybox:1", "/bin/true"],
            ["run", "busybox"],
            ["run", "-e", "A=1", "--env", "B", "-e", "C=x=y", "--name", "web", "-p", "8080:80", "-p", "9090:90/udp", "nginx:1.25"],
            ["run", "--name=web", "--memory=64m", "--cpus=0.5", "--pids-limit=20", "--health-retries", "3", "img", "sh", "-c", "echo hi"],
            ["run", "-H", "unix:///tmp/x.sock", "--tls-dir", "/etc/pier", "-d", "--restart", "on-failure:3", "img"],
            ["run", "-v", "/data:/data:ro", "--device", "/dev/ttyUSB0:/dev/ttyS0:rw", "--read-only", "-w", "/app", "-u", "1000:1000", "img"],
            ["run", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--entrypoint", "/bin/sh", "img"],
            ["run", "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "-l", "a=b", "--label", "c", "--hostname", "h", "img"],
            ["run", "--rm", "img", "--rm", "-e", "X", "--", "--help", "-dit"],  // after the image: the container's
            ["run", "--env-file", "/tmp/e", "--stop-signal", "SIGINT", "--health-cmd", "true", "--health-interval=5s", "img"],
            ["run", "--health-timeout", "2s", "--health-start-period", "1s", "img", "-"],
            ["run", "--cpus", "1e-1", "img"],
            ["run", "img", "--", "---", "-=x"],  // after a `--`, anything goes
            ["run", "--rm", "--userns", "remap", "--network", "none", "img", "id"],
        ]
        for line in lines {
            let fast = try #require(RunFastPath.parse(line), "not read: \(line)")
            #expect(fast == (try slow(line)), "\(line)")
        }
    }

    @Test("every name the random lines draw from is one the fast parser reads")
    func optionNamesAreRead() {
        // Else a name missing from `lookUp` would only ever be left to ArgumentParser, and the
        // random comparison below would never exercise it.
        for name in RunFastPath.optionNames {
            let read = RunFastPath.parse(["run", name, "img"]) ?? RunFastPath.parse(["run", name, "1", "img"])
            #expect(read != nil, "\(name)")
        }
    }

    @Test("what it does not read is left to ArgumentParser")
    func leftToArgumentParser() {
        let lines: [[String]] = [
            ["run", "--help"], ["run", "-h"], ["run"], ["run", "--rm"], ["run", "--name"],
            ["run", "-dit", "img"], ["run", "--rm=true", "img"], ["run", "--bogus", "img"],
            ["run", "--name", "a", "--name", "b", "img"], ["run", "--rm", "--rm", "img"], ["run", "-d", "--detach", "img"],
            ["run", "--cpus", "half", "img"], ["run", "--pids-limit", "-1", "img"], ["run", "--health-retries", "2.5", "img"],
            ["run", "--name", "-x", "img"], ["run", "-e", "--rm", "img"], ["run", "--name=", "img"], ["run", "--", "img"],
            ["run", "--generate-completion-script", "bash"], ["ps"], ["image", "ls"],
            ["run", "img", "cmd", "---"], ["run", "img", "-=x"], ["run", "img", "a", "---x", "--"],
        ]
        for line in lines { #expect(RunFastPath.parse(line) == nil, "\(line)") }
    }

    @Test("random command lines: whatever the fast parser reads, ArgumentParser reads the same")
    func randomLines() throws {
        var rng = SplitMix64(seed: 0x5eed)
        let values = ["x", "a=b", "64m", "0.5", "2", "-1", "", "-", "--rm", "a b", "ü", "1:2/udp", "/a:/b:ro", "=", "12abc", "+3",
                      "---x", "---", "-=x", "--=x", "-x=1", "--"]
        let names = RunFastPath.optionNames.sorted() + ["--bogus", "-x", "--", "-h", "-dv"]
        var read = 0
        for _ in 0..<3000 {
            var line = ["run"]
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                let name = names.randomElement(using: &rng)!
                switch Int.random(in: 0...2, using: &rng) {
                case 0: line.append(name)
                case 1: line += [name, values.randomElement(using: &rng)!]
                default: line.append("\(name)=\(values.randomElement(using: &rng)!)")
                }
            }
            if Bool.random(using: &rng) { line.append(["img", "busybox:1", "-"].randomElement(using: &rng)!) }
            for _ in 0..<Int.random(in: 0...2, using: &rng) { line.append((values + names).randomElement(using: &rng)!) }
            guard let fast = RunFastPath.parse(line) else { continue }
            read += 1
            let reference: RunFastPath.Parsed
            do { reference = try slow(line) } catch {
                Issue.record("the fast parser read \(line), ArgumentParser refused it: \(error)")
                continue
            }
            #expect(fast == reference, "\(line)")
        }
        #expect(read > 300, "only \(read) of 3000 lines were read by the fast parser")
    }
}

/// A small seeded generator, so that a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
