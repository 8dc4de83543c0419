#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Whether a host text is an IP address (v4 or v6) rather than a name: certificates put the two
/// in different fields, and TLS SNI may carry only a name.
public enum IPAddressText {
    public static func isIP(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }
}
