import PierCluster
import PierSpec
import Foundation
import Logging
import PierAPI
import PierOCI

/// Owns every container on this node: creates, starts, watches and removes them, applies
/// restart policies and health checks, and adopts running containers after an agent restart.
actor ContainerManager {
    let configuration: AgentConfiguration
    nonisolated let database: AgentDatabase
    let images: any ImageProvider
    let runtime: any RuntimeProvider
    let logger: Logger

    /// Callers of `waitForExit`, resumed at the next exit of their container.
    private var exitWaiters: [String: [CheckedContinuation<ContainerExit, Never>]] = [:]
    /// Bumped on every launch; a watcher of an older launch is ignored.
    private var generations: [String: Int] = [:]
    private var healthTasks: [String: Task<Void, Never>] = [:]
    /// Teardowns of exited containers that run after their exit was recorded (`processExit`).
    private var pendingCleanups: [String: Task<Void, Never>] = [:]
    private var restartTasks: [String: Task<Void, Never>] = [:]
    private var restartDelays: [String: Duration] = [:]
    /// Per container, the lifecycle operations waiting for their turn behind the one under way
    /// (a key without waiters: one is under way). See `exclusively`.
    private var turns: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// Containers a `restart` is stopping in order to start them again: their next exit is
    /// recorded as `.restarting`, not as the end of their run (see `restart`).
    private var restartingInPlace: Set<String> = []
    /// Called after a container's state or health changed by itself (an exit, a health check),
    /// so the cluster agent reports it at once instead of at its next poll.
    private var changeObservers: [@Sendable () -> Void] = []
    /// Previous CPU sample per container, for CPU %.
    private var cpuSamples: [String: (nanos: UInt64, at: ContinuousClock.Instant)] = [:]
    /// Stored containers set aside at start (a row that does not decode, a record that fails the
    /// checks of a create), by id: listed with the reason, otherwise left alone.
    var invalid: [String: InvalidContainer] = [:]
    /// Directories under `containers/` that no record names and no tombstone explains.
    var unknownDirectories: [String] = []

    init(configuration: AgentConfiguration, database: AgentDatabase, images: any ImageProvider,
         runtime: any RuntimeProvider, logger: Logger) {
        self.configuration = configuration; self.database = database; self.images = images
        self.runtime = runtime; self.logger = logger
    }

    /// On a node that joined a cluster: makes an image present by pulling it from the manager's
    /// registry, so a direct (CPIS) `pier run` of an image the device lacks works as a task would.
    private var imageFetcher: (@Sendable (String) async throws -> Void)?

    func setImageFetcher(_ fetch: @escaping @Sendable (String) async throws -> Void) { imageFetcher = fetch }

    /// The image to run: from the store, else fetched once through `imageFetcher`.
    private func runnableImage(_ reference: String) async throws -> RunnableImage {
        do { return try await images.runnable(reference) } catch {
            guard let fetch = imageFetcher else { throw error }
            do { try await fetch(reference) } catch let fetchError {
                throw AgentError.noSuchImageMessage("\(error); the cluster manager's registry could not provide it either: \(fetchError)")
            }
            return try await images.runnable(reference)
        }
    }

    func onChange(_ observer: @escaping @Sendable () -> Void) { changeObservers.append(observer) }

    func notifyChange() { for observer in changeObservers { observer() } }

    func directory(_ id: String) -> URL { configuration.containersRoot.appendingPathComponent(id) }
    func logPath(_ id: String) -> URL { directory(id).appendingPathComponent("container.log") }

    // MARK: Lookup

    /// Finds a container by full id, name, or unique id prefix.
    func record(_ ref: String) throws -> ContainerRecord {
        if ref.count == 64, invalid[ref] == nil, let r = try database.get(ref) { return r }
        if let set = setAside(ref) {
            throw AgentError.conflict("container \(set.name.isEmpty ? set.id : set.name) was set aside: \(set.reason); "
                + "it is left as it is (not watched, restarted or removed); `pier rm -f \(set.id.prefix(12))` removes it")
        }
        let all = try database.all().filter { invalid[$0.id] == nil }
        if let r = all.first(where: { $0.id == ref || $0.name == ref }) { return r }
        let matches = ref.count >= 3 ? all.filter { $0.id.hasPrefix(ref) } : []
        if matches.count == 1 { return matches[0] }
        if matches.count > 1 { throw AgentError.invalid("container id prefix \(ref) is ambiguous; give more characters") }
        throw AgentError.noSuchContainer(ref)
    }

    /// The set-aside container `ref` names (full id, name or a unique id prefix of 3 or more).
    func setAside(_ ref: String) -> InvalidContainer? {
        if let exact = invalid.values.first(where: { $0.id == ref || (!$0.name.isEmpty && $0.name == ref) }) { return exact }
        let matches = ref.count >= 3 ? invalid.values.filter { $0.id.hasPrefix(ref) } : []
        return matches.count == 1 ? matches[0] : nil
    }

    /// Containers (running ones unless `all`), and always those set aside, which need attention.
    func list(all: Bool) throws -> [ContainerSummary] {
        let usable = try database.all().filter { invalid[$0.id] == nil && (all || $0.state == .running || $0.state == .restarting) }
        return usable.map(summary) + invalid.values.sorted { $0.created < $1.created }.map(summary)
    }

    func summary(_ i: InvalidContainer) -> ContainerSummary {
        var s = ContainerSummary(
            id: i.id, name: i.name, image: i.image, imageDigest: "", command: "", created: i.created, state: i.state,
            startedAt: nil, finishedAt: nil, exitCode: nil, health: .none, restartCount: 0, network: "", ports: [], labels: [:])
        s.invalid = i.reason
        return s
    }

    func inspect(_ ref: String) throws -> ContainerDetails {
        let r = try record(ref)
        let dir = directory(r.id)
        return ContainerDetails(
            summary: summary(r), config: r.config, pid: r.state == .running ? r.pid : nil, ipAddress: r.ipAddress,
            bundlePath: dir.path, rootfsPath: dir.appendingPathComponent("rootfs").path,
            logPath: logPath(r.id).path, cgroupPath: "/pier/\(r.id)", error: r.error,
            healthLog: r.healthLog, failingStreak: r.failingStreak, security: runtime.security(directory: dir, request: r.config))
    }

    func summary(_ r: ContainerRecord) -> ContainerSummary {
        ContainerSummary(
            id: r.id, name: r.name, image: r.image, imageDigest: r.imageDigest,
            command: r.command.joined(separator: " "), created: r.created, state: r.state,
            startedAt: r.startedAt, finishedAt: r.finishedAt, exitCode: r.exitCode, health: r.health,
            restartCount: r.restartCount, network: r.config.network ?? "bridge", ports: r.config.publish,
            labels: r.config.labels)
    }

    /// Manifest digests of every container's image: pinned against image garbage collection.
    func imagesInUse() throws -> Set<String> {
        Set(try database.all().map(\.imageDigest) + invalid.values.map(\.imageDigest).filter { !$0.isEmpty })
    }

    // MARK: Create

    /// Validates the request, resolves the image and records a new container. Nothing is
    /// created when any option is bad.
    func create(_ request: ContainerSpec) async throws -> ContainerRecord {
        var request = request
        try Self.check(request)
        try database.requireAvailable()
        let image = try await runnableImage(request.image)
        trace("create: image resolved")
        if !configuration.trustedKeys.isEmpty {
            // The signing policy (`--trust-key`): the exact manifest that would run must be signed.
            try await images.requireSignature(image.digest, trusted: configuration.trustedKeys)
        }
        if request.stopSignal == nil { request.stopSignal = image.stopSignal }
        try runtime.validate(request)
        trace("create: validated")

        let id = Self.newID()
        let name = try request.name ?? uniqueName()
        request.name = name
        let command = (request.entrypoint ?? image.entrypoint ?? []) + (request.command.isEmpty && request.entrypoint == nil ? (image.cmd ?? []) : request.command)
        guard !command.isEmpty else {
            throw AgentError.invalid("no command: image \(image.reference) has no entrypoint or cmd; give one after the image name")
        }
        let record = ContainerRecord(
            id: id, name: name, image: image.reference, imageDigest: image.digest, config: request, state: .created,
            created: Date(), startedAt: nil, finishedAt: nil, exitCode: nil, error: nil, pid: nil, shimPid: nil,
            restartCount: 0, manuallyStopped: false, health: request.health == nil ? .none : .starting,
            healthLog: [], failingStreak: 0, ipAddress: nil, command: command)
        trace("create: named")
        try database.insert(record)
        trace("create: inserted")
        return record
    }

    /// The checks of a create that need nothing but the request: name, restart policy, health
    /// check, log options and every runtime option (sizes, devices, mounts, ports, user…). Also
    /// applied to records read back from the database and to the tasks a manager sends.
    static func check(_ request: ContainerSpec) throws {
        // The model's checks (every field, each within its range), then this node's.
        _ = try RuntimeBackend.options(request)
        let policy = try ContainerRestartPolicy(parsing: request.restart)
        if request.autoRemove && policy.kind != .no {
            throw AgentError.invalid("--rm and --restart \(request.restart ?? "") cannot be combined: a removed container cannot restart")
        }
    }

    /// Why a stored record cannot be used as it is, or nil: the create checks, and what the
    /// agent builds paths and processes from (id, name, command).
    static func problem(with r: ContainerRecord) -> String? {
        guard r.id.count == 64, r.id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            return "id \"\(r.id.prefix(80))\" is not 64 hex digits"
        }
        guard isValidName(r.name) else { return "name \"\(r.name.prefix(140))\" is not a valid container name" }
        guard !r.command.isEmpty else { return "it has no command" }
        guard r.restartCount >= 0, r.failingStreak >= 0 else { return "negative restart count or failing streak" }
        do { try check(r.config) } catch { return "\(error)" }
        return nil
    }

    static func isValidName(_ name: String) -> Bool { ObjectName.isValid(name, .container) }

    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for _ in 0..<32 {
            let byte = UInt8.random(in: 0...255, using: &g)
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let adjectives = ["brave", "calm", "eager", "fond", "keen", "lucid", "quiet", "sharp", "steady", "swift", "tidy", "warm"]
    private static let nouns = ["anchor", "beacon", "buoy", "harbor", "jetty", "keel", "mast", "quay", "reef", "sail", "tide", "wharf"]

    /// A generated name no container has. One indexed lookup per candidate, not a read of
    /// every record: this is on the path of every start without `--name`.
    private func uniqueName() throws -> String {
        for _ in 0..<100 {
            let n = "\(Self.adjectives.randomElement()!)_\(Self.nouns.randomElement()!)_\(Int.random(in: 0..<1000))"
            if try !database.isNameTaken(n) { return n }
        }
        return "pier_\(Self.newID().prefix(12))"
    }

    // MARK: Run

    /// Creates and starts a container; a container that cannot start is removed again, so a
    /// failed run leaves nothing behind. Every entry point (API, CoAP, cluster tasks) runs
    /// containers through this or through `create` + `startNew`.
    func run(_ request: ContainerSpec, foreground: Bool = false) async throws -> ContainerRecord {
        let record = try await create(request)
        try await startNew(record.id, foreground: foreground)
        return record
    }

    /// Starts a container `create` just made, removing it if the start fails.
    func startNew(_ id: String, foreground: Bool = false) async throws {
        do { try await start(id, foreground: foreground) } catch {
            try? await remove(id, force: true)
            throw error
        }
    }

    // MARK: Start

    /// Starts a created or exited container. `foreground` runs it with one `runc run` for its
    /// whole life (the fast path of `pier run` without `-d`).
    func start(_ ref: String, foreground: Bool = false) async throws {
        try await exclusively(ref) { try await startInTurn($0, foreground: foreground) }
    }

    private func startInTurn(_ id: String, foreground: Bool) async throws {
        var r = try record(id)
        guard r.state != .running else { throw AgentError.conflict("container \(r.name) is already running") }
        restartTasks.removeValue(forKey: r.id)?.cancel()
        if r.state == .restarting || r.manuallyStopped {
            r = try database.update(r.id) { $0.manuallyStopped = false }
        }
        try await launch(r, foreground: foreground)
    }

    /// A start is coming (a create with start, before the body is read): lets the runtime begin
    /// what can overlap with the agent's own work on it. Returns at once.
    nonisolated func anticipateStart() { runtime.anticipateStart() }

    private func launch(_ r: ContainerRecord, foreground: Bool) async throws {
        runtime.anticipateStart()  // cheap when the create has just done it
        await awaitPendingCleanup(r.id)
        let dir = directory(r.id)
        let image: RunnableImage
        let layers: [URL]
        let result: LaunchResult
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: logPath(r.id).path) {
                _ = FileManager.default.createFile(atPath: logPath(r.id).path, contents: nil)
            }
            try? FileManager.default.removeItem(at: dir.appendingPathComponent("exit.json"))
            try CreationMarker(r).write(to: dir)
            trace("launch: dirs")
            image = try await images.runnable(r.imageDigest)
            trace("launch: image")
            layers = try await images.layerPaths(image)
            trace("launch: layers")
            var request = r.config
            if request.logMaxSize == nil { request.logMaxSize = configuration.logMaxSize }
            if request.logMaxFiles == nil { request.logMaxFiles = configuration.logMaxFiles }
            result = try await runtime.launch(
                id: r.id, request: request, image: image, layers: layers, command: r.command, directory: dir,
                logPath: logPath(r.id), foreground: foreground)
        } catch {
            let message = "\(error)"
            _ = try? database.update(r.id) { $0.state = .exited; $0.error = message; $0.exitCode = 127; $0.finishedAt = Date() }
            throw error is AgentError ? error : AgentError.failed("cannot start container \(r.name): \(message)")
        }
        trace("launch: runtime")
        let generation = bumpGeneration(r.id)
        let updated = try database.update(r.id) {
            $0.state = .running; $0.startedAt = Date(); $0.finishedAt = nil; $0.exitCode = nil; $0.error = nil
            $0.pid = result.containerPid; $0.shimPid = result.shimPid; $0.ipAddress = result.ipAddress
            if $0.config.health != nil { $0.health = .starting; $0.failingStreak = 0 }
        }
        watch(updated, generation: generation)
        trace("launch: recorded")
        notifyChange()
    }

    /// Watches a container's shim and handles its exit.
    func watch(_ r: ContainerRecord, generation: Int) {
        guard let shimPid = r.shimPid else { return }
        let id = r.id
        let runtime = self.runtime
        Task.detached { [weak self] in
            await runtime.waitForExit(pid: shimPid)
            await self?.shimExited(id: id, generation: generation)
        }
        if r.config.health != nil { startHealthChecks(r) }
    }

    private func shimExited(id: String, generation: Int) async {
        trace("shim exited")
        guard generations[id] == generation, let r = try? database.get(id), r.state == .running else { return }
        let info = runtime.exitInfo(directory: directory(id))
            ?? ExitInfo(exitCode: 255, finishedAt: Date(), error: "the container's shim ended without recording an exit")
        await processExit(r, info: info)
    }

    /// Records an exit, tears the container's runtime state down, and restarts or removes it.
    ///
    /// A container that stays exited is recorded first and torn down a second later (the network,
    /// runc's state and the mounts take ~90 ms, and network setups and teardowns take turns): its
    /// exit is visible at once, and the replacement a cluster agent starts for it does not queue
    /// behind its teardown. A marker file says the teardown is pending, so an agent killed
    /// meanwhile finishes it at its next start; `start` and `remove` cut the wait short.
    ///
    /// A `--rm` container that is not coming back is deleted from the database and its exit
    /// reported at once (its name is free, `ps -a` no longer lists it); its teardown (mount,
    /// network, cgroup, ~1.5 ms) and directory follow right after. An agent killed in between
    /// finds a directory without a record at its next start and tears it down then (`adopt`).
    func processExit(_ r: ContainerRecord, info: ExitInfo) async {
        healthTasks.removeValue(forKey: r.id)?.cancel()
        // The exit a `restart` caused: the container comes back at once, in the restart's turn.
        let inPlace = restartingInPlace.remove(r.id) != nil
        let policy = (try? ContainerRestartPolicy(parsing: r.config.restart)) ?? .no
        let restart = !inPlace
            && policy.shouldRestart(exitCode: info.exitCode, restartCount: r.restartCount, manuallyStopped: r.manuallyStopped)
        let removeNow = r.config.autoRemove && !restart && !inPlace
        if restart || inPlace {
            await cleanup(r.id)
            trace("exit: cleanup")
        } else if !removeNow {
            FileManager.default.createFile(atPath: cleanupMarker(r.id).path, contents: nil)
        }
        let updated = removeNow ? nil : try? database.update(r.id) {
            $0.state = restart || inPlace ? .restarting : .exited
            $0.exitCode = info.exitCode; $0.finishedAt = info.finishedAt; $0.error = info.error
            $0.pid = nil; $0.shimPid = nil; $0.ipAddress = nil
            if restart { $0.restartCount += 1 }
            // An agent killed before the start finishes the restart at its next start (adopt).
            if inPlace { $0.manuallyStopped = false }
        }
        logger.info("container exited", metadata: [
            "id": "\(r.id.prefix(12))", "name": "\(r.name)", "exitCode": "\(info.exitCode)", "restart": "\(restart || inPlace)",
        ])
        if restart, let updated {
            let ranFor = info.finishedAt.timeIntervalSince(r.startedAt ?? info.finishedAt)
            let delay = ContainerRestartPolicy.delay(previous: restartDelays[r.id], ranFor: ranFor)
            restartDelays[r.id] = delay
            scheduleRestart(updated, after: delay)
        } else if removeNow {
            try? forget(r)
        }
        trace("exit: recorded")
        notifyChange()
        resumeWaiters(r.id, ContainerExit(exitCode: info.exitCode, error: info.error))
        if removeNow {
            exitCounts.removeValue(forKey: r.id)
            await cleanup(r.id)
            trace("exit: cleanup")
            removeDirectory(r.id)
        } else if !restart && !inPlace {
            let id = r.id
            let teardown = Task {
                try? await Task.sleep(for: .seconds(1))  // cancelled by awaitPendingCleanup
                await self.deferredCleanup(id)
            }
            pendingCleanups[id] = teardown
            await teardown.value
            trace("exit: cleanup")
        }
    }

    func cleanupMarker(_ id: String) -> URL { directory(id).appendingPathComponent("cleanup-pending") }

    /// The teardown of an exited container, after its exit was recorded. Runs in a task of its
    /// own, so cancelling the wait before it never cancels the subprocesses it starts.
    func deferredCleanup(_ id: String) async {
        await Task { await self.cleanup(id) }.value
        try? FileManager.default.removeItem(at: cleanupMarker(id))
        pendingCleanups[id] = nil
    }

    /// Finishes the deferred teardown of a container's previous run now, if one is pending.
    func awaitPendingCleanup(_ id: String) async {
        guard let pending = pendingCleanups[id] else { return }
        pending.cancel()
        await pending.value
    }

    func scheduleRestart(_ r: ContainerRecord, after delay: Duration) {
        let id = r.id
        restartTasks[id] = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.restartNow(id)
        }
    }

    private func restartNow(_ id: String) async {
        restartTasks.removeValue(forKey: id)
        // In turn: a removal meanwhile must not tear down what this launch is bringing up.
        let failure: (any Error)? = try? await exclusively(id) { id -> (any Error)? in
            guard let r = try? database.get(id), r.state == .restarting, !r.manuallyStopped else { return nil }
            do { try await launch(r, foreground: false) } catch { return error }
            return nil
        }
        guard let failure else { return }
        logger.error("restart failed", metadata: ["id": "\(id.prefix(12))", "error": "\(failure)"])
        // A failed start counts as an exit; the policy decides whether to try again. Outside the
        // turn: recording an exit may wait for a teardown, which a removal need not wait for.
        if let again = try? database.update(id, { $0.state = .running }) {
            await processExit(again, info: ExitInfo(exitCode: 127, finishedAt: Date(), error: "\(failure)"))
        }
    }

    /// Runs one lifecycle operation (start, stop, restart, remove, a policy's restart) on the
    /// container `ref` names once the operations on it before have finished, and hands the turn
    /// on. Two of them interleaved race on the same bundle, mounts, network and runc state: a
    /// removal that tears a container down while a start brings it up leaves a runc container
    /// that no record names, or a start that fails half-way. `body` gets the full id and reads
    /// the record itself: the container may have changed or gone while it waited.
    private func exclusively<T>(_ ref: String, _ body: (String) async throws -> T) async throws -> T {
        let id = try record(ref).id
        if turns[id] == nil {
            turns[id] = []
        } else {
            await withCheckedContinuation { turns[id, default: []].append($0) }
        }
        defer { handOnTurn(id) }
        return try await body(id)
    }

    private func handOnTurn(_ id: String) {
        guard var waiting = turns[id], !waiting.isEmpty else {
            turns[id] = nil
            return
        }
        let next = waiting.removeFirst()
        turns[id] = waiting
        next.resume()
    }

    /// Tears down a container's runtime state; what could not be undone is logged, not hidden.
    func cleanup(_ id: String) async {
        let problems = await runtime.cleanup(id: id, directory: directory(id))
        for problem in problems {
            logger.warning("cleanup incomplete", metadata: ["id": "\(id.prefix(12))", "problem": "\(problem)"])
        }
    }

    func bumpGeneration(_ id: String) -> Int {
        let generation = (generations[id] ?? 0) + 1
        generations[id] = generation
        return generation
    }

    func healthTasksReplace(_ id: String, _ task: Task<Void, Never>) {
        healthTasks.removeValue(forKey: id)?.cancel()
        healthTasks[id] = task
    }

    // MARK: Wait

    /// How many exits of each container this agent has processed, and the last one, so a
    /// waiter that registers late still sees the exit it was waiting for.
    private var exitCounts: [String: (count: Int, last: ContainerExit)] = [:]

    func exitCount(_ id: String) -> Int { exitCounts[id]?.count ?? 0 }

    /// Waits for the container's first exit after it had had `count` exits
    /// (`exitCount(id)` taken before the action that makes it exit).
    func waitForExit(_ id: String, after count: Int) async -> ContainerExit {
        if let seen = exitCounts[id], seen.count > count { return seen.last }
        return await withCheckedContinuation { c in exitWaiters[id, default: []].append(c) }
    }

    /// Waits for the container's next exit.
    func waitForNextExit(_ id: String) async -> ContainerExit {
        await waitForExit(id, after: exitCount(id))
    }

    /// Returns at once for a stopped container, else waits for it to stop.
    func wait(_ ref: String) async throws -> ContainerExit {
        let r = try record(ref)
        if r.state == .exited || r.state == .created || r.state == .dead {
            return ContainerExit(exitCode: r.exitCode ?? 0, error: r.error)
        }
        return await waitForNextExit(r.id)
    }

    private func resumeWaiters(_ id: String, _ exit: ContainerExit) {
        exitCounts[id] = ((exitCounts[id]?.count ?? 0) + 1, exit)
        for w in exitWaiters.removeValue(forKey: id) ?? [] { w.resume(returning: exit) }
    }

    // MARK: Stop, kill, remove

    /// Sends the stop signal, then SIGKILL after `timeout` seconds; returns when stopped.
    func stop(_ ref: String, timeout: Int?) async throws {
        try await exclusively(ref) { try await stopInTurn($0, timeout: timeout) }
    }

    private func stopInTurn(_ id: String, timeout: Int?) async throws {
        let r = try record(id)
        restartTasks.removeValue(forKey: r.id)?.cancel()
        if r.state == .restarting {
            _ = try database.update(r.id) { $0.state = .exited; $0.manuallyStopped = true }
            return
        }
        guard r.state == .running else {
            _ = try database.update(r.id) { $0.manuallyStopped = true }
            return
        }
        _ = try database.update(r.id) { $0.manuallyStopped = true }
        let id = r.id
        let seen = exitCount(id)
        let waiter = Task { await self.waitForExit(id, after: seen) }
        try? await runtime.signal(id: id, signal: r.config.stopSignal ?? "SIGTERM")
        let grace = Duration.seconds(timeout ?? 10)
        let killer = Task { [runtime] in
            try await Task.sleep(for: grace)
            try? await runtime.signal(id: id, signal: "SIGKILL")
        }
        _ = await waiter.value
        killer.cancel()
    }

    func kill(_ ref: String, signal: String) async throws {
        let r = try record(ref)
        guard r.state == .running else { throw AgentError.conflict("container \(r.name) is not running") }
        if ["KILL", "SIGKILL", "9", "TERM", "SIGTERM", "15"].contains(signal.uppercased()) {
            _ = try database.update(r.id) { $0.manuallyStopped = true }
        }
        try await runtime.signal(id: r.id, signal: signal)
    }

    /// Stops and starts the container again, in one turn, as `docker restart`: it stays the same
    /// container, and its stop is not its end. The exit the stop causes is recorded as
    /// `.restarting` (reported as still running), so a cluster agent does not report the task as
    /// complete, and the manager does not replace it, while the container comes back.
    func restart(_ ref: String, timeout: Int?) async throws {
        try await exclusively(ref) { id in
            let r = try record(id)
            if r.state == .running {
                restartingInPlace.insert(id)
                defer { restartingInPlace.remove(id) }
                try await stopInTurn(id, timeout: timeout)
            }
            try await startInTurn(id, foreground: false)
        }
    }

    /// Removes a stopped container (or, with `force`, kills it first) and everything it had.
    func remove(_ ref: String, force: Bool) async throws {
        if let set = setAside(ref) { return try await removeSetAside(set, force: force) }
        try await exclusively(ref) { try await removeInTurn($0, force: force) }
    }

    private func removeInTurn(_ id: String, force: Bool) async throws {
        let r = try record(id)
        if r.state == .running {
            guard force else {
                throw AgentError.conflict("container \(r.name) is running: stop it first or use rm -f")
            }
            _ = try database.update(r.id) { $0.manuallyStopped = true }
            let id = r.id
            let seen = exitCount(id)
            let waiter = Task { await self.waitForExit(id, after: seen) }
            try? await runtime.signal(id: id, signal: "SIGKILL")
            _ = await waiter.value
        }
        restartTasks.removeValue(forKey: r.id)?.cancel()
        healthTasks.removeValue(forKey: r.id)?.cancel()
        await awaitPendingCleanup(r.id)
        await cleanup(r.id)
        try removeFiles(r)
    }

    /// Removes a container that was set aside: it may still run (its record says so, or runc
    /// does), so only with `force`; it is killed through runc, torn down and deleted.
    private func removeSetAside(_ c: InvalidContainer, force: Bool) async throws {
        guard !c.id.isEmpty, !c.id.contains("/"), c.id != ".", c.id != ".." else {
            throw AgentError.conflict("container \(c.name) has no usable id (\(c.reason)); move the database aside with `pier agent recover`")
        }
        guard force else {
            throw AgentError.conflict("container \(c.name.isEmpty ? c.id : c.name) was set aside (\(c.reason)); `pier rm -f` removes it, killing it if it runs")
        }
        try? await runtime.signal(id: c.id, signal: "SIGKILL")
        await cleanup(c.id)
        try database.delete(c.id)
        invalid[c.id] = nil
        removeDirectory(c.id)
        notifyChange()
    }

    /// Forgets the container and deletes its directory (upper layer, logs) in the background.
    /// Its runtime state must be torn down already.
    private func removeFiles(_ r: ContainerRecord) throws {
        try forget(r)
        removeDirectory(r.id)
    }

    /// Deletes the container's directory in the background (an upper layer can be large).
    private func removeDirectory(_ id: String) {
        let dir = directory(id)
        let database = self.database
        Task.detached(priority: .utility) {
            try? FileManager.default.removeItem(at: dir)
            if !FileManager.default.fileExists(atPath: dir.path) { try? database.clearTombstone(id) }
        }
    }

    /// Deletes the container's record and what the agent keeps about it in memory.
    private func forget(_ r: ContainerRecord) throws {
        try database.delete(r.id)
        notifyChange()
        generations.removeValue(forKey: r.id)
        restartDelays.removeValue(forKey: r.id)
        cpuSamples.removeValue(forKey: r.id)
        exitCounts.removeValue(forKey: r.id)
    }

    // MARK: Stats and exec

    func stats(_ ref: String) async throws -> ContainerStats {
        let r = try record(ref)
        guard r.state == .running else { throw AgentError.conflict("container \(r.name) is not running") }
        var s = try runtime.stats(id: r.id)
        let now = ContinuousClock.now
        let previous: (nanos: UInt64, at: ContinuousClock.Instant)
        if let p = cpuSamples[r.id], now - p.at < .seconds(30), p.nanos <= s.cpuNanoseconds {
            previous = p
        } else {
            // No recent sample: take a second one a moment later.
            previous = (s.cpuNanoseconds, now)
            try await Task.sleep(for: .milliseconds(500))
            s = try runtime.stats(id: r.id)
        }
        let taken = ContinuousClock.now
        cpuSamples[r.id] = (s.cpuNanoseconds, taken)
        let elapsed = taken - previous.at
        let elapsedNanos = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        let percent = elapsedNanos > 0 ? Double(s.cpuNanoseconds &- previous.nanos) / elapsedNanos * 100 : 0
        return ContainerStats(id: r.id, name: r.name, cpuPercent: percent, cpuTotalNanoseconds: s.cpuNanoseconds,
                              memoryBytes: s.memoryBytes, memoryLimitBytes: s.memoryLimit, pids: s.pids, read: Date())
    }

    func allStats() async throws -> [ContainerStats] {
        let running = try database.all().filter { $0.state == .running }
        return try await withThrowingTaskGroup(of: ContainerStats?.self) { group in
            for r in running { group.addTask { try? await self.stats(r.id) } }
            var out: [ContainerStats] = []
            for try await s in group { if let s { out.append(s) } }
            return out.sorted { $0.name < $1.name }
        }
    }

    func exec(_ ref: String, request: ExecRequest, output: @escaping @Sendable (ExecOutput) -> Void) async throws -> Int32 {
        let r = try record(ref)
        guard r.state == .running else { throw AgentError.conflict("container \(r.name) is not running") }
        guard !request.command.isEmpty else { throw AgentError.invalid("exec needs a command") }
        return try await runtime.exec(id: r.id, directory: directory(r.id), request: request, timeout: nil, output: output)
    }
}
