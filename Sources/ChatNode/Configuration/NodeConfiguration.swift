/// Everything a node is configured with: PROTOCOL.md §4's flags plus the
/// limits that protect it.
///
/// Tests build one directly; `chat-node` builds one from flags and the environment.
public struct NodeConfiguration: Sendable {
    /// Address to bind.
    public var host = "127.0.0.1"
    /// Port to bind; 0 picks a free one.
    public var port = 8080
    /// The Redis to join a cluster through; `nil` runs the node alone with an in-process bus.
    public var redisURL: String?
    /// PEM file of the authorities trusted for `rediss://`; nil trusts the system's.
    public var redisCertificateAuthorityFile: String?
    /// The id other nodes and clients see.
    public var nodeID: String
    /// Seconds between WebSocket pings; a connection silent for two intervals is dropped.
    public var pingInterval: Duration = .seconds(15)
    /// After this long without a heartbeat, a node counts as dead.
    public var nodeTTL: Duration = .seconds(5)
    /// Origins allowed to open `/chat` besides the same origin; `*` allows any.
    public var allowedOrigins: [String] = []
    /// Messages per second each connection may send; 0 turns the limit off.
    public var rate: Double = 10
    /// Messages a connection may send in a burst.
    public var burst: Int = 30
    /// Prefix of every Redis key and channel.
    public var cluster = "chat"
    /// Longest a node holds presence changes before sending them to v2 clients as one event.
    public var presenceInterval: Duration = .milliseconds(100)
    /// Whether the node accepts `permessage-deflate`.
    public var compression = true
    /// A room with more members than this is large (PROTOCOL.md §6).
    public var largeRoom = 1000
    /// Rooms one v3 connection may be a member of at once.
    public var maximumRooms = 50
    /// `--event-loops`: the event loops (threads) serving clients; with 1 the
    /// Redis bus shares that loop. nil: one per core, and Redis on a thread of its own.
    public var eventLoops: Int?
    /// `--auth-key`: the keys of login tokens (`hs256:PATH`, a PEM public key
    /// or a JWKS file, §7); nil: any free nick may be taken without a token.
    public var authKey: String?
    /// `--auth-audience`: the `aud` login tokens must carry, when set.
    public var authAudience: String?
    /// `--auth-issuer`: the `iss` login tokens must carry, when set.
    public var authIssuer: String?
    /// How long after its token's `exp` a connection may still send
    /// `refresh` before it is closed (§7: 30 s; tests shorten it).
    public var loginGrace: Duration = .seconds(30)
    /// `--api-key-file`: the file holding the server API's bearer key (§7); nil: the API answers 404.
    public var apiKeyFile: String?
    /// How log lines are written to standard error.
    public var logFormat = LogFormat.text

    /// A client must say `hello` within this long after the upgrade.
    public var helloTimeout: Duration = .seconds(10)
    /// Largest message a client may send, after defragmentation.
    public var maximumMessageBytes = 16_384
    /// Largest number of bytes waiting for a client that does not read,
    /// beyond what the socket and NIO already hold.
    public var maximumQueuedBytes = 1 << 20
    /// A connection must send a complete HTTP request head within this long.
    public var requestHeadTimeout: Duration = .seconds(10)
    /// An HTTP connection idle this long between requests is closed.
    public var httpIdleTimeout: Duration = .seconds(60)
    /// Longest a draining node waits for the bus to release its users.
    public var drainBusTimeout: Duration = .milliseconds(1500)
    /// Pending TCP connections the listening socket holds; a connect storm
    /// beyond it would overflow the listen queue.
    public var listenBacklog = 4096
    /// Kernel send buffer of each WebSocket connection. Fixed rather than
    /// auto-tuned, so a client that stops reading pins a bounded amount of
    /// kernel memory and is detected as slow soon.
    public var socketSendBufferBytes = 128 * 1024
    /// How long a closing connection waits for the client's close frame.
    public var closeTimeout: Duration = .seconds(2)
    /// How many `message` events `welcome` carries when it does not resume.
    public var historyLength = 50
    /// How many `message` events the cluster keeps for resuming (v2 `since`).
    public var historyRetention = 1000
    /// A room whose last member left and that received no message for this
    /// long is forgotten, history included (PROTOCOL.md §6); `lobby` never is.
    public var forgetIdleRoomsAfter: Duration = .seconds(86_400)

    /// Creates a configuration with the protocol's defaults.
    public init(nodeID: String) {
        self.nodeID = nodeID
    }
}
