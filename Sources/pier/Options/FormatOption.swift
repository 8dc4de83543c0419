import ArgumentParser
import PierClient

extension ListingFormat: ExpressibleByArgument {}

/// `--format table|json` for commands that print a listing.
struct FormatOption: ParsableArguments {
    @Option(help: "Output format: table (aligned columns) or json (a JSON array).")
    var format: ListingFormat = .table
}
