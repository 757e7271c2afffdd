/// One sentence an operator can act on for a TLS handshake that failed,
/// instead of the TLS library's error dump (type names, codes, source paths).
enum TLSFailure {
    /// What a TLS error says went wrong, as far as it tells.
    enum Problem {
        case certificateExpired
        case certificateNamesAnotherHost
        case certificateNotTrusted
        case serverSpeaksNoTLS
        case other

        /// The problem as a phrase that can follow a colon.
        var phrase: String {
            switch self {
            case .certificateExpired: "the server's certificate has expired"
            case .certificateNamesAnotherHost: "the server's certificate does not name the host this node connects to"
            case .certificateNotTrusted: "the server's certificate is not signed by an authority this node trusts"
            case .serverSpeaksNoTLS: "the server does not speak TLS on this port"
            case .other: "the TLS session failed"
            }
        }
    }

    /// Reads the problem from the error's description, the only place the
    /// TLS library puts the verification result.
    static func problem(_ error: any Error) -> Problem {
        let text = String(describing: error).lowercased()
        func mentions(_ markers: String...) -> Bool { markers.contains { text.contains($0.lowercased()) } }
        if mentions("CERTIFICATE_EXPIRED", "certificate has expired") { return .certificateExpired }
        if mentions("failedToValidateHostname", "hostname mismatch", "unableToValidateCertificate") {
            return .certificateNamesAnotherHost
        }
        if mentions("CERTIFICATE_VERIFY_FAILED", "certificate verify failed") { return .certificateNotTrusted }
        if mentions("WRONG_VERSION_NUMBER", "wrong version number", "eofDuringHandshake", "uncleanShutdown") {
            return .serverSpeaksNoTLS
        }
        return .other
    }

    /// What went wrong with the handshake with `server`, and what to do about it.
    static func sentence(for error: any Error, server: RedisServerAddress) -> String {
        switch problem(error) {
        case .certificateExpired:
            "the certificate of Redis at \(server) has expired"
        case .certificateNamesAnotherHost:
            "the certificate of Redis at \(server) does not name \(server.host) (it must list it as a DNS name or an IP address)"
        case .certificateNotTrusted:
            "the certificate of Redis at \(server) is not signed by an authority this node trusts (give that authority's PEM file with --redis-ca)"
        case .serverSpeaksNoTLS:
            "Redis at \(server) does not speak TLS on this port (use redis:// for a plain port, or the server's TLS port)"
        case .other:
            "the TLS handshake with Redis at \(server) failed (the server refused this node's TLS settings or closed the connection)"
        }
    }
}
