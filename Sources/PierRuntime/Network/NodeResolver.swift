import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The node's name server for its containers: one `dnsmasq` (Debian `dnsmasq-base`) on the
/// bridge's gateway address, answering the cluster's zone from hosts files the agent writes into
/// a watched directory (`--hostsdir`: a change is served within ~50 ms, without a signal) and
/// forwarding every other name to the node's own name servers.
///
/// `supervise()` starts it, starts it again when it dies or its record directory vanished, and
/// stops it when cancelled; `stop()` ends it at once. A dnsmasq that an agent killed with SIGKILL
/// left behind is found through its pid file and ended before a new one starts.
public final class NodeResolver: Sendable {
    public struct Configuration: Sendable {
        /// `<dataRoot>/dns`: the records (`hosts/`), the pid file and dnsmasq's log.
        public var directory: URL
        /// The zone answered from the records alone (`pier`): nothing in it is forwarded.
        public var domain: String
        /// Name servers to forward to (`ADDRESS` or `ADDRESS#PORT`); nil: those of /etc/resolv.conf.
        public var upstreams: [String]?
        /// Answers dnsmasq caches from the upstream servers.
        public var cacheSize: Int
        /// The dnsmasq binary; nil: /usr/sbin/dnsmasq or /usr/bin/dnsmasq.
        public var binary: String?
        public var resolvConf: URL

        public init(directory: URL, domain: String = "pier", upstreams: [String]? = nil, cacheSize: Int = 1000, binary: String? = nil,
                    resolvConf: URL = URL(fileURLWithPath: "/etc/resolv.conf")) {
            self.directory = directory; self.domain = domain; self.upstreams = upstreams; self.cacheSize = cacheSize
            self.binary = binary; self.resolvConf = resolvConf
        }

        public var hostsDirectory: URL { directory.appendingPathComponent("hosts") }
        var pidFile: URL { directory.appendingPathComponent("dnsmasq.pid") }
        var logFile: URL { directory.appendingPathComponent("dnsmasq.log") }
    }

    public let configuration: Configuration
    /// The dnsmasq binary, when one is installed.
    public let binary: String?
    private let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    private struct State {
        var pid: pid_t?
        var address: String?
        /// The record files as last written, by name: written again when the directory is recreated.
        var files: [String: String] = [:]
        /// The record directory was made again under a running dnsmasq, whose watch is on the
        /// old one: it must be restarted.
        var recreated = false
    }

    public init(configuration: Configuration, log: @escaping @Sendable (String) -> Void) {
        self.configuration = configuration
        self.log = log
        binary = ([configuration.binary].compactMap { $0 } + ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"])
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The address it listens on while it runs (or is being restarted), else nil.
    public var address: String? { state.withLock { $0.address } }

    /// dnsmasq's arguments for `address`. `--bind-dynamic`: the bridge and its address appear
    /// only with the first bridge container, and dnsmasq starts listening when they do.
    public func arguments(address: String, upstreams: [String]) -> [String] {
        let c = configuration
        return [
            "--keep-in-foreground", "--conf-file=/dev/null", "--bind-dynamic", "--listen-address=\(address)",
            "--no-resolv", "--no-hosts", "--hostsdir=\(c.hostsDirectory.path)", "--local=/\(c.domain)/", "--domain-needed",
            // Root: the records live in the agent's data root, which only root can read.
            "--user=root", "--pid-file=\(c.pidFile.path)", "--log-facility=\(c.logFile.path)", "--cache-size=\(c.cacheSize)",
        ] + upstreams.map { "--server=\($0)" }
    }

    /// The name servers of a resolv.conf, as dnsmasq `--server` values. Loopback ones stay:
    /// dnsmasq runs in the node's network namespace, where they answer.
    public static func upstreams(fromResolvConf text: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            let address = String(fields[1])
            let isIPv4 = address.split(separator: ".").count == 4 && address.allSatisfy { $0.isNumber || $0 == "." }
            let isIPv6 = address.contains(":") && address.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
            return isIPv4 || isIPv6 ? address : nil
        }
    }

    /// Why `server` cannot be an upstream name server (`ADDRESS` or `ADDRESS#PORT`), or nil.
    public static func upstreamProblem(_ server: String) -> String? {
        let parts = server.split(separator: "#", omittingEmptySubsequences: false)
        let expected = "expected an IPv4 or IPv6 address, optionally with #PORT (1.1.1.1, 127.0.0.1#5353)"
        guard parts.count <= 2, let address = parts.first, upstreams(fromResolvConf: "nameserver \(address)") == [String(address)] else {
            return expected
        }
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port) else { return "port \"\(parts[1])\" is not 1…65535; \(expected)" }
        }
        return nil
    }

    /// Keeps dnsmasq running on `address()` (re-read every `interval`: a new subnet restarts it)
    /// until the task is cancelled, then stops it.
    public func supervise(address: @escaping @Sendable () -> String?, interval: Duration = .milliseconds(250)) async {
        var backoff = Duration.milliseconds(250)
        var nextStart = ContinuousClock.now
        while !Task.isCancelled {
            let wanted = address()
            if let pid = state.withLock({ $0.pid }) {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    state.withLock { $0.pid = nil }
                    log("dnsmasq (pid \(pid)) exited (\(Self.describe(status))); restarting it. Its log: \(tail(configuration.logFile))")
                    nextStart = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, .seconds(5))
                } else if !FileManager.default.fileExists(atPath: configuration.hostsDirectory.path)
                    || state.withLock({ s in defer { s.recreated = false }; return s.recreated })
                {
                    log("record directory \(configuration.hostsDirectory.path) vanished; recreating it and restarting dnsmasq")
                    kill(pid); restoreRecords()
                } else if wanted != state.withLock({ $0.address }) {
                    kill(pid)
                }
            }
            if state.withLock({ $0.pid }) == nil, let wanted, ContinuousClock.now >= nextStart {
                do {
                    try start(address: wanted)
                } catch {
                    log("cannot start dnsmasq: \(error)")
                    nextStart = ContinuousClock.now + backoff
                    backoff = min(backoff * 2, .seconds(5))
                }
            }
            if ContinuousClock.now - nextStart > .seconds(10) { backoff = .milliseconds(250) }
            try? await Task.sleep(for: interval)
        }
        stop()
    }

    /// Ends dnsmasq (SIGTERM, then SIGKILL after a second) and forgets its address.
    public func stop() {
        let pid = state.withLock { s in
            defer { s.pid = nil; s.address = nil }
            return s.pid
        }
        if let pid { kill(pid) }
    }

    /// Writes the record files (name → hosts-file text) that differ from those on disk, each
    /// atomically (a temporary file dnsmasq ignores, renamed), and removes the others.
    public func write(_ files: [String: String]) throws {
        let fm = FileManager.default
        let dir = configuration.hostsDirectory
        if !fm.fileExists(atPath: dir.path) {
            try fm.makeDirectory(dir)
            state.withLock { if $0.pid != nil { $0.recreated = true } }
        }
        let present = Set((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            let url = dir.appendingPathComponent(name)
            if present.contains(name), (try? String(contentsOf: url, encoding: .utf8)) == text { continue }
            try SystemCalls.writeAtomically(Data(text.utf8), to: url, mode: 0o600, durable: false)
        }
        for name in present where files[name] == nil { try? fm.removeItem(at: dir.appendingPathComponent(name)) }
        state.withLock { $0.files = files }
    }

    // MARK: Process

    private func start(address: String) throws {
        guard let binary else { throw NetworkError.badConfiguration("dnsmasq is not installed (Debian: apt-get install dnsmasq-base)") }
        let fm = FileManager.default
        try fm.makeDirectory(configuration.directory)
        if !fm.fileExists(atPath: configuration.hostsDirectory.path) { restoreRecords() }
        endLeftover()
        let upstreams = configuration.upstreams ?? Self.upstreams(
            fromResolvConf: (try? String(contentsOf: configuration.resolvConf, encoding: .utf8)) ?? "")
        if upstreams.isEmpty { log("no upstream name server (none in \(configuration.resolvConf.path)): only cluster names resolve") }
        // A fresh log per start; dnsmasq writes only its start-up lines and problems there.
        try? fm.removeItem(at: configuration.logFile)
        let pid = try Subprocess.spawn(binary, arguments(address: address, upstreams: upstreams))
        state.withLock { $0.pid = pid; $0.address = address }
        log("dnsmasq (pid \(pid)) serving the cluster's names on \(address):53, forwarding to \(upstreams.joined(separator: ", "))")
    }

    /// Recreates the record directory and writes the last records into it.
    private func restoreRecords() {
        let files = state.withLock { $0.files }
        do { try write(files) } catch { log("cannot recreate \(configuration.hostsDirectory.path): \(error)") }
    }

    /// A dnsmasq of this data root that outlived its agent (killed with SIGKILL): its pid file
    /// names it, and its command line names our record directory.
    private func endLeftover() {
        guard let text = try? String(contentsOf: configuration.pidFile, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1,
            let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        else { return }
        let arguments = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard arguments.contains("--hostsdir=\(configuration.hostsDirectory.path)") else { return }
        log("ending dnsmasq (pid \(pid)) left by an earlier agent")
        Glibc.kill(pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(2)
        while FileManager.default.fileExists(atPath: "/proc/\(pid)/cmdline"), ContinuousClock.now < deadline { usleep(10_000) }
    }

    /// SIGTERM, SIGKILL after a second, and reaps it.
    private func kill(_ pid: pid_t) {
        Glibc.kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(1)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                Glibc.kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                break
            }
            usleep(5_000)
        }
        state.withLock { if $0.pid == pid { $0.pid = nil } }
    }

    private static func describe(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(signal)"
    }

    private func tail(_ url: URL) -> String {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return String(text.suffix(600)).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
