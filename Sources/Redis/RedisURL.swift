/// Where and how to reach Redis: `redis://[[user]:password@]host:port[/db]`,
/// or `rediss://…` over TLS.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// `rediss://`: the connection runs over TLS and the server's certificate is verified.
    public var usesTLS: Bool
    /// PEM file of the certificate authorities trusted for TLS (`--redis-ca`); nil for the system's.
    public var certificateAuthorityFile: String?
    /// Host name or address.
    public var host: String
    /// TCP port; 6379 when the URL names none.
    public var port: Int
    /// ACL user for `AUTH user password` (Redis 6+); without it `AUTH password`.
    public var user: String?
    /// Password for `AUTH`, if any.
    public var password: String?
    /// Database for `SELECT`; 0 by default.
    public var database: Int

    /// Creates a URL from its parts.
    public init(
        host: String, port: Int = 6379, user: String? = nil, password: String? = nil, database: Int = 0, usesTLS: Bool = false
    ) {
        self.usesTLS = usesTLS
        self.certificateAuthorityFile = nil
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// Parses a `redis://` or `rediss://` URL, throwing an error that says what is wrong with it.
    public init(parsing text: String) throws(RedisError) {
        let usesTLS = text.hasPrefix("rediss://")
        let prefix = usesTLS ? "rediss://" : "redis://"
        guard text.hasPrefix(prefix) else {
            throw RedisError(.invalidURL, "Redis URL must start with redis:// or rediss:// (got \"\(text)\")")
        }
        var rest = Substring(text.dropFirst(prefix.count))
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            // "redis://:pw@" authenticates with the password alone, "redis://user:pw@" as an ACL user.
            if let colon = userInfo.firstIndex(of: ":") {
                let name = userInfo[..<colon]
                if !name.isEmpty { user = String(name).removingPercentEncoding() }
                password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding()
            } else if !userInfo.isEmpty {
                password = String(userInfo).removingPercentEncoding()
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else {
                    throw RedisError(.invalidURL, "Redis URL database must be a non-negative number (got \"\(dbText)\")")
                }
                database = db
            }
        }
        var host = String(rest)
        var port = 6379
        if rest.hasPrefix("[") {
            // IPv6 literal: [::1]:6379
            guard let close = rest.firstIndex(of: "]") else {
                throw RedisError(.invalidURL, "Redis URL has an unterminated IPv6 address")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = try Self.port(after.dropFirst()) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = try Self.port(rest[rest.index(after: colon)...])
        }
        guard !host.isEmpty else { throw RedisError(.invalidURL, "Redis URL has no host (got \"\(text)\")") }
        self.init(host: host, port: port, user: user, password: password, database: database, usesTLS: usesTLS)
    }

    private static func port(_ text: Substring) throws(RedisError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw RedisError(.invalidURL, "Redis URL port must be 1-65535 (got \"\(text)\")")
        }
        return port
    }

    /// The URL without its password, safe for logs.
    public var description: String {
        "\(usesTLS ? "rediss" : "redis")://\(password == nil ? "" : "\(user ?? ""):***@")\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }
}

extension String {
    fileprivate func removingPercentEncoding() -> String {
        var bytes: [UInt8] = []
        var iterator = Array(utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
