import ArgumentParser
import ChatNode

/// The flags of `chat-node` (PROTOCOL.md §4). Values are taken as text and
/// validated by `NodeSettings`, so every bad value gets the same kind of
/// one-line error.
struct ChatNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-node",
        abstract: "A node of the Swift chat cluster: WebSocket chat at /chat, chat.v1.json, chat.v2.json and chat.v3.json.",
        discussion: """
            Every flag can also be set with the environment variable in brackets; the flag wins.
            Without --redis the node runs alone with an in-process bus.
            """,
        version: ChatNodeVersion.description
    )

    @Option(help: "Address to bind. [CHAT_HOST] (default: 127.0.0.1)")
    var host: String?

    @Option(help: "Port to bind; 0 picks a free one. [CHAT_PORT] (default: 8080)")
    var port: String?

    @Option(help: "redis[s]://[[user]:password@]host:port[/db] to join a cluster (rediss is TLS), or redis[s]-sentinel://host:port[,host:port…][/db]#MASTER to follow a Sentinel group's master. [CHAT_REDIS] (default: none, standalone)")
    var redis: String?

    @Option(name: .customLong("redis-ca"), help: "PEM file of the authorities trusted for rediss:// and rediss-sentinel://. [CHAT_REDIS_CA] (default: the system's)")
    var redisCA: String?

    @Option(name: .customLong("node-id"), help: "The id other nodes and clients see. [CHAT_NODE_ID] (default: hostname-pid)")
    var nodeID: String?

    @Option(name: .customLong("ping-interval"), help: "Seconds between heartbeats. [CHAT_PING_INTERVAL] (default: 15)")
    var pingInterval: String?

    @Option(name: .customLong("node-ttl"), help: "Seconds after which a silent node counts as dead. [CHAT_NODE_TTL] (default: 5)")
    var nodeTTL: String?

    @Option(name: .customLong("allowed-origin"), help: "Extra origin allowed to open /chat, or *; repeatable. [CHAT_ALLOWED_ORIGINS, comma-separated]")
    var allowedOrigins: [String] = []

    @Option(help: "Messages per second per connection; 0 turns the limit off. [CHAT_RATE] (default: 10)")
    var rate: String?

    @Option(help: "Messages per connection in a burst, at least 1. [CHAT_BURST] (default: 30)")
    var burst: String?

    @Option(help: "Prefix of every Redis key and channel: 1-32 of A-Z a-z 0-9 _ -. [CHAT_CLUSTER] (default: chat)")
    var cluster: String?

    @Option(name: .customLong("presence-interval"), help: "Seconds a node may hold presence changes for v2 clients. [CHAT_PRESENCE_INTERVAL] (default: 0.1)")
    var presenceInterval: String?

    @Option(help: "on or off: accept permessage-deflate. [CHAT_COMPRESSION] (default: on)")
    var compression: String?

    @Option(name: .customLong("large-room"), help: "Member count above which a room is large: counts instead of names for v3. [CHAT_LARGE_ROOM] (default: 1000)")
    var largeRoom: String?

    @Option(name: .customLong("max-rooms"), help: "Rooms one v3 connection may be a member of at once. [CHAT_MAX_ROOMS] (default: 50)")
    var maxRooms: String?

    @Option(name: .customLong("event-loops"), help: "Event loops (threads) serving clients; with 1 the node is single-threaded, Redis included: the choice when several nodes share a few cores. [CHAT_EVENT_LOOPS] (default: one per core, Redis on a thread of its own)")
    var eventLoops: String?

    @Option(name: .customLong("auth-key"), help: "Keys of login tokens: hs256:PATH (a shared-secret file), a PEM public key (RSA, P-256, Ed25519) or a JWKS file; every hello then needs a token. [CHAT_AUTH_KEY] (default: none)")
    var authKey: String?

    @Option(name: .customLong("auth-audience"), help: "The aud login tokens must carry. [CHAT_AUTH_AUDIENCE]")
    var authAudience: String?

    @Option(name: .customLong("auth-issuer"), help: "The iss login tokens must carry. [CHAT_AUTH_ISSUER]")
    var authIssuer: String?

    @Option(name: .customLong("api-key-file"), help: "File holding the server API's bearer key; without it /api answers 404. [CHAT_API_KEY_FILE]")
    var apiKeyFile: String?

    @Option(name: .customLong("log-format"), help: "text or json (one object per line). [CHAT_LOG_FORMAT] (default: text)")
    var logFormat: String?

    var settings: NodeSettings {
        var settings = NodeSettings()
        settings.host = host
        settings.port = port
        settings.redis = redis
        settings.redisCA = redisCA
        settings.nodeID = nodeID
        settings.pingInterval = pingInterval
        settings.nodeTTL = nodeTTL
        settings.allowedOrigins = allowedOrigins
        settings.rate = rate
        settings.burst = burst
        settings.cluster = cluster
        settings.logFormat = logFormat
        settings.presenceInterval = presenceInterval
        settings.compression = compression
        settings.largeRoom = largeRoom
        settings.maxRooms = maxRooms
        settings.eventLoops = eventLoops
        settings.authKey = authKey
        settings.authAudience = authAudience
        settings.authIssuer = authIssuer
        settings.apiKeyFile = apiKeyFile
        return settings
    }
}
