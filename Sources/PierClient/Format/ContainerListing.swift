import Foundation
import PierAPI

/// The `pier ps` table.
public enum ContainerListing {
    public static let header = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]

    /// One row per container, with `now` as the clock for relative times.
    public static func table(_ containers: [ContainerSummary], now: Date, truncate: Bool = true) -> TextTable {
        TextTable(header: header, rows: containers.map { c in
            let command = truncate ? Identifiers.truncate(c.command, to: 20) : c.command
            return [
                truncate ? Identifiers.short(c.id) : c.id,
                c.image,
                "\"\(command)\"",
                ContainerStatus.ago(c.created, now: now),
                ContainerStatus.describe(c, now: now),
                c.ports.joined(separator: ", "),
                c.name,
            ]
        })
    }
}
