import PierSpec
import Foundation
import PierAPI

extension ContainerManager {
    /// Runs the container's health check on its interval for as long as this launch lives.
    func startHealthChecks(_ r: ContainerRecord) {
        guard let check = r.config.health else { return }
        let id = r.id
        let started = r.startedAt ?? Date()
        healthTasksReplace(id, Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(check.intervalSeconds * 1000)))
                guard !Task.isCancelled, let self else { return }
                await self.runHealthCheck(id: id, check: check, started: started)
            }
        })
    }

    private func runHealthCheck(id: String, check: HealthCheckConfig, started: Date) async {
        guard let r = try? database.get(id), r.state == .running else { return }
        let command = check.command.count == 1 ? ["/bin/sh", "-c", check.command[0]] : check.command
        let start = Date()
        let collected = OutputCollector(limit: 4096)
        var code: Int32
        do {
            code = try await runtime.exec(
                id: id, directory: directory(id), request: ExecRequest(command: command),
                timeout: .milliseconds(Int(check.timeoutSeconds * 1000)), output: { collected.add($0) })
        } catch {
            code = -1
            collected.add(.stderr(Array("health check could not run: \(error)".utf8)))
        }
        let entry = HealthLogEntry(start: start, end: Date(), exitCode: code, output: collected.text)
        let inStartPeriod = Date().timeIntervalSince(started) < check.startPeriodSeconds
        let before = r.health
        let updated = try? database.update(id) { rec in
            guard rec.state == .running else { return }
            rec.healthLog = Array((rec.healthLog + [entry]).suffix(5))
            if code == 0 {
                rec.failingStreak = 0
                rec.health = .healthy
            } else if !inStartPeriod || rec.health == .healthy {
                rec.failingStreak += 1
                if rec.failingStreak >= check.retries { rec.health = .unhealthy }
            }
        }
        if let updated, updated.health != before { notifyChange() }
    }
}

/// Collects a bounded amount of a health check's output.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    func add(_ output: ExecOutput) {
        lock.lock(); defer { lock.unlock() }
        switch output {
        case .stdout(let b), .stderr(let b): bytes += b.prefix(max(0, limit - bytes.count))
        }
    }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: bytes, as: UTF8.self) }
}
