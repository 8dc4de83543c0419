/// A recipe that cannot be built: the line and what is wrong with it.
public struct RecipeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line number; 0 when the error is about the recipe as a whole.
    public var line: Int
    public var message: String

    public init(line: Int, message: String) { self.line = line; self.message = message }

    public var description: String { line > 0 ? "recipe line \(line): \(message)" : "recipe: \(message)" }
}
