import Foundation
import Redis

/// The raw settings of a node as an operator gives them, flags and
/// environment alike, before validation.
///
/// `chat-node` collects these from its flags; `resolve` applies the
/// environment (a flag wins over its variable) and validates everything,
/// so a bad value produces one clear sentence.
public struct NodeSettings: Sendable {
    /// `--host` [CHAT_HOST]: address to bind.
    public var host: String?
    /// `--port` [CHAT_PORT]: port to bind, 0 for any free one.
    public var port: String?
    /// `--redis` [CHAT_REDIS]: `redis://` URL of the cluster's Redis.
    public var redis: String?
    /// `--redis-ca` [CHAT_REDIS_CA]: PEM file of the authorities trusted for `rediss://`.
    public var redisCA: String?
    /// `--node-id` [CHAT_NODE_ID]: the id other nodes and clients see.
    public var nodeID: String?
    /// `--ping-interval` [CHAT_PING_INTERVAL]: seconds between heartbeats.
    public var pingInterval: String?
    /// `--node-ttl` [CHAT_NODE_TTL]: seconds after which a silent node is dead.
    public var nodeTTL: String?
    /// `--allowed-origin`, repeatable [CHAT_ALLOWED_ORIGINS, comma-separated].
    public var allowedOrigins: [String] = []
    /// `--rate` [CHAT_RATE]: messages per second per connection, 0 for no limit.
    public var rate: String?
    /// `--burst` [CHAT_BURST]: messages per connection in a burst.
    public var burst: String?
    /// `--cluster` [CHAT_CLUSTER]: prefix of every Redis key and channel.
    public var cluster: String?
    /// `--log-format` [CHAT_LOG_FORMAT]: `text` or `json`.
    public var logFormat: String?
    /// `--presence-interval` [CHAT_PRESENCE_INTERVAL]: seconds presence changes may wait for v2 clients.
    public var presenceInterval: String?
    /// `--compression` [CHAT_COMPRESSION]: `on` or `off`.
    public var compression: String?
    /// `--large-room` [CHAT_LARGE_ROOM]: member count above which a room is large.
    public var largeRoom: String?
    /// `--max-rooms` [CHAT_MAX_ROOMS]: rooms one connection may be a member of.
    public var maxRooms: String?
    /// `--event-loops` [CHAT_EVENT_LOOPS]: event loops serving clients.
    public var eventLoops: String?
    /// `--auth-key` [CHAT_AUTH_KEY]: `hs256:PATH`, a PEM public key or a JWKS file.
    public var authKey: String?
    /// `--auth-audience` [CHAT_AUTH_AUDIENCE]: the `aud` login tokens must carry.
    public var authAudience: String?
    /// `--auth-issuer` [CHAT_AUTH_ISSUER]: the `iss` login tokens must carry.
    public var authIssuer: String?
    /// `--api-key-file` [CHAT_API_KEY_FILE]: the file holding the server API's bearer key.
    public var apiKeyFile: String?

    /// Creates empty settings: every value comes from the environment or the defaults.
    public init() {}

    /// Applies the environment, validates, and returns the configuration.
    public func resolve(environment: [String: String]) throws(ConfigurationError) -> NodeConfiguration {
        func value(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        let nodeID = value(self.nodeID, "CHAT_NODE_ID") ?? Self.defaultNodeID()
        guard !nodeID.isEmpty, nodeID.count <= 128, !nodeID.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ConfigurationError("--node-id must be 1-128 characters without spaces")
        }
        var configuration = NodeConfiguration(nodeID: nodeID)
        configuration.host = value(host, "CHAT_HOST") ?? configuration.host
        if let text = value(logFormat, "CHAT_LOG_FORMAT") {
            guard let format = LogFormat(rawValue: text) else {
                throw ConfigurationError("--log-format must be text or json (got \"\(text)\")")
            }
            configuration.logFormat = format
        }
        if let text = value(port, "CHAT_PORT") {
            guard let port = Int(text), (0...65535).contains(port) else {
                throw ConfigurationError("--port must be a whole number from 0 to 65535 (got \"\(text)\")")
            }
            configuration.port = port
        }
        if let text = value(redis, "CHAT_REDIS") {
            do {
                _ = try RedisURL(parsing: text)
            } catch {
                throw ConfigurationError("--redis: \(error.message)")
            }
            configuration.redisURL = text
        }
        if let path = value(redisCA, "CHAT_REDIS_CA") {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("--redis-ca: cannot read \"\(path)\"")
            }
            configuration.redisCertificateAuthorityFile = path
        }
        if let text = value(pingInterval, "CHAT_PING_INTERVAL") {
            configuration.pingInterval = try Self.duration(text, flag: "--ping-interval")
        }
        if let text = value(nodeTTL, "CHAT_NODE_TTL") {
            configuration.nodeTTL = try Self.duration(text, flag: "--node-ttl")
        }
        if let text = value(presenceInterval, "CHAT_PRESENCE_INTERVAL") {
            configuration.presenceInterval = try Self.duration(text, flag: "--presence-interval")
        }
        if let text = value(compression, "CHAT_COMPRESSION") {
            switch text {
            case "on": configuration.compression = true
            case "off": configuration.compression = false
            default: throw ConfigurationError("--compression must be on or off (got \"\(text)\")")
            }
        }
        if let text = value(largeRoom, "CHAT_LARGE_ROOM") {
            guard let count = Int(text), count >= 1 else {
                throw ConfigurationError("--large-room must be a whole number of members, at least 1 (got \"\(text)\")")
            }
            configuration.largeRoom = count
        }
        if let text = value(maxRooms, "CHAT_MAX_ROOMS") {
            guard let count = Int(text), (1...10_000).contains(count) else {
                throw ConfigurationError("--max-rooms must be a whole number from 1 to 10000 (got \"\(text)\")")
            }
            configuration.maximumRooms = count
        }
        if let text = value(eventLoops, "CHAT_EVENT_LOOPS") {
            guard let count = Int(text), (1...256).contains(count) else {
                throw ConfigurationError("--event-loops must be a whole number from 1 to 256 (got \"\(text)\")")
            }
            configuration.eventLoops = count
        }
        if let text = value(authKey, "CHAT_AUTH_KEY") {
            let path = text.hasPrefix("hs256:") ? String(text.dropFirst("hs256:".count)) : text
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("--auth-key: cannot read \"\(path)\"")
            }
            configuration.authKey = text
        }
        configuration.authAudience = value(authAudience, "CHAT_AUTH_AUDIENCE")
        configuration.authIssuer = value(authIssuer, "CHAT_AUTH_ISSUER")
        if configuration.authKey == nil, configuration.authAudience != nil || configuration.authIssuer != nil {
            throw ConfigurationError("--auth-audience and --auth-issuer need --auth-key")
        }
        if let path = value(apiKeyFile, "CHAT_API_KEY_FILE") {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError("--api-key-file: cannot read \"\(path)\"")
            }
            configuration.apiKeyFile = path
        }
        var origins = allowedOrigins
        if origins.isEmpty, let text = environment["CHAT_ALLOWED_ORIGINS"] {
            origins = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        for origin in origins where origin != "*" && OriginPolicy.normalizedOrigin(origin) == nil {
            throw ConfigurationError("--allowed-origin must be * or scheme://host[:port] (got \"\(origin)\")")
        }
        configuration.allowedOrigins = origins
        if let text = value(rate, "CHAT_RATE") {
            guard let rate = Double(text), rate.isFinite, rate >= 0 else {
                throw ConfigurationError("--rate must be a number of messages per second, 0 or more (got \"\(text)\")")
            }
            configuration.rate = rate
        }
        if let text = value(burst, "CHAT_BURST") {
            guard let burst = Int(text), burst >= 1 else {
                throw ConfigurationError("--burst must be a whole number of at least 1 (got \"\(text)\")")
            }
            configuration.burst = burst
        }
        if let text = value(cluster, "CHAT_CLUSTER") {
            let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
            guard (1...32).contains(text.count), text.allSatisfy({ allowed.contains($0) }) else {
                throw ConfigurationError("--cluster must be 1-32 of A-Z a-z 0-9 _ - (got \"\(text)\")")
            }
            configuration.cluster = text
        }
        return configuration
    }

    private static func duration(_ text: String, flag: String) throws(ConfigurationError) -> Duration {
        guard let seconds = Double(text), seconds.isFinite, seconds > 0, seconds <= 86_400 else {
            throw ConfigurationError("\(flag) must be a number of seconds above 0 and at most 86400 (got \"\(text)\")")
        }
        return .nanoseconds(Int64(seconds * 1_000_000_000))
    }

    /// `hostname-pid`, with the short host name.
    static func defaultNodeID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        return "\(host.isEmpty ? "node" : host)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// A flag or environment value that cannot be used; `message` names it and says why.
public struct ConfigurationError: Error, CustomStringConvertible {
    /// One sentence for the operator.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
