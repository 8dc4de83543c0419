import Foundation
import PierRegistry
import Synchronization

/// Turns blob progress into lines for `pier image pull`: per layer, bytes, rate and time left,
/// at most once a second per layer and once when it is stored.
///
///     3ac387be5fef: 12.3 MB / 56.0 MB   4.1 MB/s   ETA 11s
///     3ac387be5fef: done (56.0 MB)
///     9d1c0e4b2a7f: delta 383.0 kB for 58.7 MB: done
final class PullProgress: Sendable {
    private struct Layer {
        var started: ContinuousClock.Instant
        var lastLine: ContinuousClock.Instant?
    }
    private let layers = Mutex<[String: Layer]>([:])
    private let emit: @Sendable (String) -> Void

    init(emit: @escaping @Sendable (String) -> Void) { self.emit = emit }

    func update(_ p: BlobProgress) {
        let now = ContinuousClock.now
        let id = String(p.digest.encoded.prefix(12))
        let line: String? = layers.withLock { all in
            var layer = all[id] ?? Layer(started: now)
            defer { all[id] = layer }
            if p.done {
                return p.delta ? "\(id): delta \(Self.bytes(p.received)) for \(Self.bytes(p.total)): done" : "\(id): done (\(Self.bytes(p.total)))"
            }
            if let last = layer.lastLine, now - last < .seconds(1) { return nil }
            layer.lastLine = now
            let elapsed = Double((now - layer.started).components.seconds) + Double((now - layer.started).components.attoseconds) / 1e18
            guard elapsed > 0.2 else { return nil }
            let rate = Double(p.received) / elapsed
            if p.delta { return "\(id): delta \(Self.bytes(p.received)) received   \(Self.bytes(Int64(rate)))/s" }
            let left = rate > 0 ? Double(p.total - p.received) / rate : 0
            return "\(id): \(Self.bytes(p.received)) / \(Self.bytes(p.total))   \(Self.bytes(Int64(rate)))/s   ETA \(Int(left.rounded(.up)))s"
        }
        if let line { emit(line + "\n") }
    }

    /// Decimal units, as Docker prints sizes.
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(n), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
    }
}
