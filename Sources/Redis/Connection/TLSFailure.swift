/// One sentence an operator can act on for a TLS handshake that failed,
/// instead of the TLS library's error dump (type names, codes, source paths).
enum TLSFailure {
    /// What went wrong with the handshake with `server`, as far as `error` tells.
    static func sentence(for error: any Error, server: RedisServerAddress) -> String {
        let text = String(describing: error).lowercased()
        func mentions(_ markers: String...) -> Bool { markers.contains { text.contains($0.lowercased()) } }
        if mentions("CERTIFICATE_EXPIRED", "certificate has expired") {
            return "the certificate of Redis at \(server) has expired"
        }
        if mentions("failedToValidateHostname", "hostname mismatch", "unableToValidateCertificate") {
            return "the certificate of Redis at \(server) does not name \(server.host) (it must list it as a DNS name or an IP address)"
        }
        if mentions("CERTIFICATE_VERIFY_FAILED", "certificate verify failed") {
            return "the certificate of Redis at \(server) is not signed by an authority this node trusts (give that authority's PEM file with --redis-ca)"
        }
        if mentions("WRONG_VERSION_NUMBER", "wrong version number", "eofDuringHandshake", "uncleanShutdown") {
            return "Redis at \(server) does not speak TLS on this port (use redis:// for a plain port, or the server's TLS port)"
        }
        return "the TLS handshake with Redis at \(server) failed (the server refused this node's TLS settings or closed the connection)"
    }
}
