import Foundation
import PierAPI

/// The `pier stats` table: `CONTAINER ID  NAME  CPU %  MEM USAGE / LIMIT  MEM %  PIDS`.
public enum StatsListing {
    public static let header = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"]

    /// One row per container; `hostMemory` stands in for the limit of containers without one, as in Docker.
    public static func table(_ stats: [ContainerStats], hostMemory: UInt64?) -> TextTable {
        TextTable(header: header, rows: stats.map { s in
            let limit = s.memoryLimitBytes ?? hostMemory
            let limitText = limit.map { ByteSize.binary($0) } ?? "unlimited"
            let memPercent = limit.map { $0 > 0 ? Double(s.memoryBytes) / Double($0) * 100 : 0 }
            return [
                Identifiers.short(s.id),
                s.name,
                String(format: "%.2f%%", s.cpuPercent),
                "\(ByteSize.binary(s.memoryBytes)) / \(limitText)",
                memPercent.map { String(format: "%.2f%%", $0) } ?? "--",
                String(s.pids),
            ]
        })
    }
}
