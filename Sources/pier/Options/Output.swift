import ArgumentParser
import PierClient

/// Printing helpers shared by the commands.
enum Output {
    static func print(_ text: String) { StandardStreams.print(text) }
    static func printError(_ text: String) { StandardStreams.printError(text) }

    /// Prints a listing as a table or, with `--format json`, as a JSON array of the wire objects.
    static func listing<T: Encodable>(_ items: [T], format: ListingFormat, table: () -> TextTable) throws {
        switch format {
        case .json: print(try JSONOutput.render(items))
        case .table: print(table().rendered())
        }
    }

    /// Runs `action` for each reference (concurrently), then prints each reference that succeeded
    /// and `Error: …` for each that failed, in the order given; exits 1 when any failed.
    static func forEach(_ references: [String], _ action: @escaping @Sendable (String) async throws -> Void) async throws {
        let results = await withTaskGroup(of: (Int, String?).self) { group in
            for (index, reference) in references.enumerated() {
                group.addTask {
                    do {
                        try await action(reference)
                        return (index, nil)
                    } catch {
                        return (index, "\(error)")
                    }
                }
            }
            var results = [String?](repeating: nil, count: references.count)
            for await (index, failure) in group { results[index] = failure }
            return results
        }
        var failed = false
        for (reference, failure) in zip(references, results) {
            if let failure {
                failed = true
                printError("Error: \(failure)\n")
            } else {
                print(reference + "\n")
            }
        }
        if failed { throw ExitCode.failure }
    }
}
