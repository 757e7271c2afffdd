import NIOCore

/// Where and how to reach Redis: `redis://[[user]:password@]host:port[/db]`,
/// `rediss://…` over TLS, `redis-sentinel://host:port[,host:port…][/db]#MASTER`
/// (`rediss-sentinel://…`) to ask Sentinels for the current master, or
/// `redis-cluster://host:port[,host:port…]` (`rediss-cluster://…`) for a
/// Redis Cluster found from these seed nodes.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    /// `rediss://`: the connection runs over TLS and the server's certificate is verified.
    public var usesTLS: Bool
    /// PEM file of the certificate authorities trusted for TLS (`--redis-ca`); nil for the system's.
    public var certificateAuthorityFile: String?
    /// Host name or address; for a Sentinel URL, the first Sentinel's.
    public var host: String
    /// TCP port; 6379 when the URL names none (26379 for Sentinels).
    public var port: Int
    /// ACL user for `AUTH user password` (Redis 6+); without it `AUTH password`.
    public var user: String?
    /// Password for `AUTH`, if any; with Sentinel it is the master's.
    public var password: String?
    /// Database for `SELECT`; 0 by default.
    public var database: Int
    /// The Sentinels to ask for the master, for `redis-sentinel://` URLs.
    public var sentinel: RedisSentinelGroup?
    /// The seed nodes of a Redis Cluster, for `redis-cluster://` URLs.
    public var clusterSeeds: [RedisServerAddress]?

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
        self.sentinel = nil
        self.clusterSeeds = nil
    }

    /// Creates a URL for the Redis Cluster that `seeds` belong to.
    public init(clusterSeeds seeds: [RedisServerAddress], user: String? = nil, password: String? = nil, usesTLS: Bool = false) {
        self.init(host: seeds[0].host, port: seeds[0].port, user: user, password: password, usesTLS: usesTLS)
        self.clusterSeeds = seeds
    }

    /// Creates a URL that reaches the master of `sentinel`'s group.
    public init(sentinel: RedisSentinelGroup, user: String? = nil, password: String? = nil, database: Int = 0, usesTLS: Bool = false) {
        self.init(host: sentinel.sentinels[0].host, port: sentinel.sentinels[0].port, user: user, password: password, database: database, usesTLS: usesTLS)
        self.sentinel = sentinel
    }

    /// The server this URL names directly (for a Sentinel URL, the first Sentinel).
    public var address: RedisServerAddress { RedisServerAddress(host: host, port: port) }

    /// A URL for talking to one of this URL's Sentinels: the same TLS
    /// settings, no password (the password is the master's) and no database.
    func sentinelConnection(to sentinel: RedisServerAddress) -> RedisURL {
        var url = RedisURL(host: sentinel.host, port: sentinel.port, usesTLS: usesTLS)
        url.certificateAuthorityFile = certificateAuthorityFile
        return url
    }

    /// A URL for one node of this URL's cluster (or any server it learns
    /// of): the same credentials and TLS settings, database 0.
    public func node(_ address: RedisServerAddress) -> RedisURL {
        var url = RedisURL(host: address.host, port: address.port, user: user, password: password, usesTLS: usesTLS)
        url.certificateAuthorityFile = certificateAuthorityFile
        return url
    }

    private enum Kind { case single, sentinel, cluster }

    /// Parses a Redis URL in any of the forms above, throwing an error that says what is wrong with it.
    public init(parsing text: String) throws(RedisError) {
        let schemes: [(prefix: String, tls: Bool, kind: Kind)] = [
            ("redis://", false, .single), ("rediss://", true, .single), ("redis-sentinel://", false, .sentinel),
            ("rediss-sentinel://", true, .sentinel), ("redis-cluster://", false, .cluster), ("rediss-cluster://", true, .cluster),
        ]
        guard let scheme = schemes.first(where: { text.hasPrefix($0.prefix) }) else {
            throw RedisError(
                .invalidURL,
                "Redis URL must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster:// (got \"\(text)\")"
            )
        }
        var rest = Substring(text.dropFirst(scheme.prefix.count))
        var masterName: String?
        if scheme.kind == .sentinel {
            guard let hash = rest.lastIndex(of: "#"), !rest[rest.index(after: hash)...].isEmpty else {
                throw RedisError(.invalidURL, "a Sentinel URL must end with #MASTER, the name of the master group (got \"\(text)\")")
            }
            masterName = String(rest[rest.index(after: hash)...]).removingPercentEncoding()
            rest = rest[..<hash]
        }
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
        if scheme.kind == .cluster {
            guard database == 0 else {
                throw RedisError(.invalidURL, "a Redis Cluster has only database 0 (got \"\(text)\")")
            }
            let seeds = try rest.split(separator: ",", omittingEmptySubsequences: false).map { text throws(RedisError) in
                try Self.address(text, defaultPort: 6379, in: text)
            }
            self.init(clusterSeeds: seeds, user: user, password: password, usesTLS: scheme.tls)
        } else if let masterName {
            let sentinels = try rest.split(separator: ",", omittingEmptySubsequences: false).map { text throws(RedisError) in
                try Self.address(text, defaultPort: 26379, in: text)
            }
            self.init(
                sentinel: RedisSentinelGroup(sentinels: sentinels, masterName: masterName),
                user: user, password: password, database: database, usesTLS: scheme.tls
            )
        } else {
            let address = try Self.address(rest, defaultPort: 6379, in: Substring(text))
            self.init(host: address.host, port: address.port, user: user, password: password, database: database, usesTLS: scheme.tls)
        }
    }

    /// Reads `host[:port]` or `[v6]:port`.
    private static func address(_ text: Substring, defaultPort: Int, in whole: Substring) throws(RedisError) -> RedisServerAddress {
        var host = String(text)
        var port = defaultPort
        if text.hasPrefix("[") {
            // IPv6 literal: [::1]:6379
            guard let close = text.firstIndex(of: "]") else {
                throw RedisError(.invalidURL, "Redis URL has an unterminated IPv6 address")
            }
            host = String(text[text.index(after: text.startIndex)..<close])
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") { port = try Self.port(after.dropFirst()) }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            port = try Self.port(text[text.index(after: colon)...])
        }
        guard !host.isEmpty else { throw RedisError(.invalidURL, "Redis URL has an empty host (in \"\(whole)\")") }
        return RedisServerAddress(host: host, port: port)
    }

    private static func port(_ text: Substring) throws(RedisError) -> Int {
        guard let port = Int(text), (1...65535).contains(port) else {
            throw RedisError(.invalidURL, "Redis URL port must be 1-65535 (got \"\(text)\")")
        }
        return port
    }

    /// The URL without its password, safe for logs.
    public var description: String {
        let credentials = password == nil ? "" : "\(user ?? ""):***@"
        if let clusterSeeds {
            return "\(usesTLS ? "rediss" : "redis")-cluster://\(credentials)\(clusterSeeds.map(\.description).joined(separator: ","))"
        }
        guard let sentinel else {
            return "\(usesTLS ? "rediss" : "redis")://\(credentials)\(address)/\(database)"
        }
        let sentinels = sentinel.sentinels.map(\.description).joined(separator: ",")
        return "\(usesTLS ? "rediss" : "redis")-sentinel://\(credentials)\(sentinels)/\(database)#\(sentinel.masterName)"
    }
}

/// A Redis server's host and port.
public struct RedisServerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address.
    public var host: String
    /// TCP port.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Whether `channel` is connected to this address (compared as an IP address).
    func isRemote(of channel: any Channel) -> Bool {
        guard let remote = channel.remoteAddress else { return false }
        return remote.ipAddress == host && remote.port == port
    }

    /// `host:port`, with an IPv6 host in brackets.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The Sentinels watching a master group, and the group's name.
public struct RedisSentinelGroup: Sendable, Equatable {
    /// The Sentinels to ask, in order; at least one.
    public var sentinels: [RedisServerAddress]
    /// The master group's name, as in `sentinel monitor NAME …`.
    public var masterName: String

    /// Creates a group.
    public init(sentinels: [RedisServerAddress], masterName: String) {
        self.sentinels = sentinels
        self.masterName = masterName
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
