/// The authorization hook's decision.
public enum RegistryAuthorization: Sendable, Hashable {
    case allow
    /// 401 `UNAUTHORIZED`: the client did not identify itself (e.g. no client certificate).
    /// `challenge` is sent as `WWW-Authenticate`, e.g. `Bearer realm="…",service="…",scope="…"`.
    case unauthorized(String, challenge: String? = nil)
    /// 403 `DENIED`: the client is known but may not do this.
    case denied(String)
}
