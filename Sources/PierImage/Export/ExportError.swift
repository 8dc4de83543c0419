/// Why an export failed.
public enum ExportError: Error, Sendable, CustomStringConvertible {
    case io(String)
    public var description: String {
        switch self {
        case .io(let message): "export: \(message)"
        }
    }
}
