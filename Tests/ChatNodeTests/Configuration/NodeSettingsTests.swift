import ChatNode
import Testing

@Suite("Flags and environment")
struct NodeSettingsTests {
    @Test("defaults follow PROTOCOL.md §4")
    func defaults() throws {
        let configuration = try NodeSettings().resolve(environment: [:])
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.redisURL == nil)
        #expect(configuration.pingInterval == .seconds(15))
        #expect(configuration.nodeTTL == .seconds(5))
        #expect(configuration.rate == 10)
        #expect(configuration.burst == 30)
        #expect(configuration.cluster == "chat")
        #expect(configuration.nodeID.contains("-"))
        #expect(configuration.eventLoops == nil)
    }

    @Test("environment variables apply; a flag wins over its variable")
    func environment() throws {
        var settings = NodeSettings()
        settings.port = "9001"
        let configuration = try settings.resolve(environment: [
            "CHAT_PORT": "9000", "CHAT_HOST": "0.0.0.0", "CHAT_PING_INTERVAL": "0.5", "CHAT_RATE": "2.5",
            "CHAT_BURST": "3", "CHAT_CLUSTER": "blue_1", "CHAT_NODE_ID": "n7", "CHAT_ALLOWED_ORIGINS": "https://a.example, *",
            "CHAT_REDIS": "redis://:pw@redis:6380/1", "CHAT_NODE_TTL": "2", "CHAT_EVENT_LOOPS": "1",
        ])
        #expect(configuration.port == 9001)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.pingInterval == .milliseconds(500))
        #expect(configuration.nodeTTL == .seconds(2))
        #expect(configuration.rate == 2.5)
        #expect(configuration.burst == 3)
        #expect(configuration.cluster == "blue_1")
        #expect(configuration.nodeID == "n7")
        #expect(configuration.allowedOrigins == ["https://a.example", "*"])
        #expect(configuration.redisURL == "redis://:pw@redis:6380/1")
        #expect(configuration.eventLoops == 1)
    }

    @Test("bad values are refused with a sentence naming the flag", arguments: [
        ("port", "70000", "--port"), ("port", "-1", "--port"), ("port", "x", "--port"),
        ("pingInterval", "0", "--ping-interval"), ("pingInterval", "-2", "--ping-interval"), ("pingInterval", "soon", "--ping-interval"),
        ("nodeTTL", "0", "--node-ttl"), ("rate", "-1", "--rate"), ("rate", "fast", "--rate"),
        ("burst", "0", "--burst"), ("burst", "1.5", "--burst"), ("cluster", "", "--cluster"), ("cluster", "a b", "--cluster"),
        ("cluster", String(repeating: "c", count: 33), "--cluster"), ("redis", "http://x", "--redis"), ("redis", "redis://h:0", "--redis"),
        ("eventLoops", "0", "--event-loops"), ("eventLoops", "257", "--event-loops"), ("eventLoops", "two", "--event-loops"),
    ])
    func badValues(field: String, value: String, flag: String) {
        var settings = NodeSettings()
        switch field {
        case "port": settings.port = value
        case "pingInterval": settings.pingInterval = value
        case "nodeTTL": settings.nodeTTL = value
        case "rate": settings.rate = value
        case "burst": settings.burst = value
        case "cluster": settings.cluster = value
        case "eventLoops": settings.eventLoops = value
        default: settings.redis = value
        }
        let error = #expect(throws: ConfigurationError.self) { try settings.resolve(environment: [:]) }
        #expect(error?.message.hasPrefix(flag) == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("\n") == false)
    }

    @Test("fractional rates and durations are allowed")
    func fractional() throws {
        var settings = NodeSettings()
        settings.rate = "0.5"
        settings.pingInterval = "0.25"
        let configuration = try settings.resolve(environment: [:])
        #expect(configuration.rate == 0.5)
        #expect(configuration.pingInterval == .milliseconds(250))
    }
}

@Suite("Origin policy")
struct OriginPolicyTests {
    @Test("same origin compares host and port case-insensitively, dropping default ports, ignoring the scheme")
    func sameOrigin() {
        let policy = OriginPolicy(allowedOrigins: [])
        #expect(policy.accepts(origin: nil, host: "chat.example"))
        #expect(policy.accepts(origin: "https://chat.example", host: "chat.example"))
        #expect(policy.accepts(origin: "https://Chat.Example:443", host: "chat.example"))
        #expect(policy.accepts(origin: "http://chat.example", host: "CHAT.example:80"))
        #expect(policy.accepts(origin: "http://localhost:8080", host: "localhost:8080"))
        #expect(!policy.accepts(origin: "http://localhost:8081", host: "localhost:8080"))
        #expect(!policy.accepts(origin: "http://evil.example", host: "chat.example"))
        #expect(!policy.accepts(origin: "null", host: "chat.example"))
        #expect(!policy.accepts(origin: "https://chat.example", host: nil))
    }

    @Test("listed origins match exactly after the default-port rule; * matches anything")
    func listed() {
        let policy = OriginPolicy(allowedOrigins: ["https://app.example"])
        #expect(policy.accepts(origin: "https://app.example:443", host: "chat.example"))
        #expect(!policy.accepts(origin: "http://app.example", host: "chat.example"))
        #expect(OriginPolicy(allowedOrigins: ["*"]).accepts(origin: "null", host: "chat.example"))
    }
}
