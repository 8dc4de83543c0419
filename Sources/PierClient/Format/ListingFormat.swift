/// How a listing or inspect is printed: `--format table` (aligned columns) or `--format json`.
public enum ListingFormat: String, Sendable, CaseIterable {
    case table, json
}
