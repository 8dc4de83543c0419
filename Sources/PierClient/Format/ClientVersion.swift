/// The version of this `pier` client.
public enum ClientVersion {
    public static let current = "0.1.0-dev"
}
