import Foundation
import PierAPI

/// The `pier image ls` and `pier image du` tables.
public enum ImageListing {
    public static let header = ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]

    /// One row per tag (an untagged image shows `<none>`), newest first as Docker lists them.
    public static func table(_ images: [ImageSummary], now: Date, truncate: Bool = true) -> TextTable {
        var rows: [[String]] = []
        for image in sortedNewestFirst(images) {
            let created = image.created.map { ContainerStatus.ago($0, now: now) } ?? "N/A"
            let names = image.tags.isEmpty ? [("<none>", "<none>")] : image.tags.map(Identifiers.repositoryAndTag)
            for (repository, tag) in names {
                rows.append([repository, tag, truncate ? Identifiers.short(image.digest) : image.digest, created, ByteSize.human(image.size)])
            }
        }
        return TextTable(header: header, rows: rows)
    }

    /// `pier image du`: what each image takes, what it shares with others, what only it holds.
    public static func diskUsageTable(_ usage: DiskUsage) -> TextTable {
        TextTable(header: ["IMAGE", "IMAGE ID", "LAYERS", "SIZE", "SHARED SIZE", "UNIQUE SIZE"],
                  rows: sortedNewestFirst(usage.images).map { image in
            [image.tags.first ?? "<none>", Identifiers.short(image.digest), String(image.layers),
             ByteSize.human(image.size), ByteSize.human(image.sharedSize), ByteSize.human(image.size - image.sharedSize)]
        })
    }

    /// The totals under the `pier image du` table.
    public static func diskUsageTotals(_ usage: DiskUsage) -> String {
        let saved = max(0, usage.unsharedTotalBytes - usage.contentStoreBytes)
        return """
        Images:            \(usage.images.count)
        Content store:     \(ByteSize.human(usage.contentStoreBytes)) (each blob stored once)
        Unpacked layers:   \(ByteSize.human(usage.unpackedLayerBytes)) (each layer unpacked once)
        Without sharing:   \(ByteSize.human(usage.unsharedTotalBytes))
        Saved by sharing:  \(ByteSize.human(saved))

        """
    }

    /// `pier image du IMAGE… [--from IMAGE…] [--deltas]`: sizes, then install and update cost.
    public static func downloadAnalysis(_ a: DownloadAnalysis, from: [String]) -> String {
        let table = TextTable(header: ["IMAGE", "IMAGE ID", "SIZE", "UNIQUE SIZE"], rows: a.images.map { image in
            [image.name, Identifiers.short(image.digest), ByteSize.human(image.bytes), ByteSize.human(image.uniqueBytes)]
        })
        var text = table.rendered() + "\n"
        text += "Fresh install:     \(ByteSize.human(a.installBytes)) (\(ByteSize.human(a.separateBytes)) if nothing were shared)\n"
        if let update = a.updateBytes {
            text += "Update from \(from.joined(separator: ", ")): \(ByteSize.human(update)) (changed layers whole, as Docker downloads them)\n"
        }
        if let delta = a.deltaBytes, let layers = a.deltaLayers {
            text += "  with deltas:     \(ByteSize.human(delta)) (\(layers) layer\(layers == 1 ? "" : "s") as \(layers == 1 ? "a delta" : "deltas"))\n"
        }
        return text
    }

    static func sortedNewestFirst(_ images: [ImageSummary]) -> [ImageSummary] {
        images.sorted { ($0.created ?? .distantPast, $1.digest) > ($1.created ?? .distantPast, $0.digest) }
    }
}
