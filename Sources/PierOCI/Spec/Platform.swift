/// The platform an image runs on (OCI image-spec v1.1, `image-index.md`, `platform` object).
public struct Platform: Codable, Sendable, Hashable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?
    public var features: [String]?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant, features
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil, osVersion: String? = nil,
                osFeatures: [String]? = nil, features: [String]? = nil) {
        self.os = os; self.architecture = architecture; self.variant = variant
        self.osVersion = osVersion; self.osFeatures = osFeatures; self.features = features
    }

    /// `os/architecture[/variant]`, as Docker writes platforms.
    public var description: String {
        [os, architecture, variant].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "/")
    }

    /// How well an image for `self` runs on `host`: nil when it cannot, higher is better.
    public func matchScore(on host: Platform) -> Int? {
        guard os == host.os, architecture == host.architecture else { return nil }
        let mine = variant.flatMap { $0.isEmpty ? nil : $0 }
        let theirs = host.variant.flatMap { $0.isEmpty ? nil : $0 }
        if mine == theirs { return 100 }
        switch architecture {
        case "arm64":
            // arm64 without a variant means v8.
            if (mine ?? "v8") == (theirs ?? "v8") { return 90 }
            return nil
        case "arm":
            // An ARMv7 host runs v6 and v5 binaries; newer ones do not run on older hosts.
            guard let mineLevel = Self.armLevel(mine), let hostLevel = Self.armLevel(theirs ?? "v7") else {
                return mine == nil ? 10 : nil
            }
            return mineLevel <= hostLevel ? 50 + mineLevel : nil
        case "amd64":
            switch mine {
            case nil, "v1": return 90
            case "v2": return 40
            default: return nil
            }
        default:
            return mine == nil ? 50 : nil
        }
    }

    private static func armLevel(_ variant: String?) -> Int? {
        guard let variant, variant.hasPrefix("v") else { return nil }
        return Int(variant.dropFirst())
    }

    /// The index entry that fits `host` best, or nil when none does. Entries without a platform
    /// count only when the index holds exactly one manifest.
    public static func bestMatch(in manifests: [Descriptor], for host: Platform = .host) -> Descriptor? {
        let candidates = manifests.filter { MediaType.isManifest($0.mediaType) || MediaType.isIndex($0.mediaType) }
        var best: (Descriptor, Int)?
        for descriptor in candidates {
            guard let platform = descriptor.platform else { continue }
            guard let score = platform.matchScore(on: host) else { continue }
            if let current = best, current.1 >= score { continue }
            best = (descriptor, score)
        }
        if let best { return best.0 }
        if candidates.count == 1, candidates[0].platform == nil { return candidates[0] }
        return nil
    }
}
