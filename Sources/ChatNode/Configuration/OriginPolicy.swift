/// Decides whether a WebSocket handshake's `Origin` may open `/chat`,
/// which defends against cross-site WebSocket hijacking.
public struct OriginPolicy: Sendable {
    private let allowsAny: Bool
    private let allowed: Set<String>

    /// Creates a policy from `--allowed-origin` entries; `*` allows every origin.
    public init(allowedOrigins: [String]) {
        self.allowsAny = allowedOrigins.contains("*")
        self.allowed = Set(allowedOrigins.compactMap { Self.normalizedOrigin($0) })
    }

    /// Whether a handshake with this `Origin` (or none) and `Host` is accepted.
    public func accepts(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        if allowsAny { return true }
        guard let normalized = Self.normalizedOrigin(origin) else { return false }
        if allowed.contains(normalized) { return true }
        guard let host, let originAuthority = Self.authority(ofOrigin: origin) else { return false }
        return originAuthority == Self.normalizedAuthority(host)
    }

    /// `scheme://host[:port]` lowercased, with a default port (80 or 443) dropped; nil for `null` or garbage.
    static func normalizedOrigin(_ origin: String) -> String? {
        let trimmed = origin.trimmingCharacters(in: " \t")
        guard let schemeEnd = trimmed.range(of: "://") else { return nil }
        let scheme = trimmed[..<schemeEnd.lowerBound].lowercased()
        guard !scheme.isEmpty, let authority = authority(ofOrigin: trimmed) else { return nil }
        return "\(scheme)://\(authority)"
    }

    /// The `host[:port]` part of an origin, normalised; nil for `null` or garbage.
    static func authority(ofOrigin origin: String) -> String? {
        guard let schemeEnd = origin.range(of: "://") else { return nil }
        var rest = origin[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard !rest.isEmpty else { return nil }
        return normalizedAuthority(String(rest))
    }

    /// Lowercases `host[:port]` and drops a port of 80 or 443.
    static func normalizedAuthority(_ authority: String) -> String {
        var value = authority.trimmingCharacters(in: " \t").lowercased()
        for port in [":80", ":443"] where value.hasSuffix(port) {
            value.removeLast(port.count)
        }
        return value
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
