import Redis
import Testing

@Suite("redis:// URLs")
struct RedisURLTests {
    @Test("host, port, password and database are read")
    func full() throws {
        let url = try RedisURL(parsing: "redis://:s3cret@cache.local:6380/2")
        #expect(url == RedisURL(host: "cache.local", port: 6380, password: "s3cret", database: 2))
    }

    @Test("a user before the password is an ACL user; percent-escapes are decoded")
    func aclUser() throws {
        #expect(try RedisURL(parsing: "redis://chat:p%40ss@cache.local") == RedisURL(host: "cache.local", user: "chat", password: "p@ss"))
        #expect(try RedisURL(parsing: "redis://:pw@h").user == nil)
    }

    @Test("port and database default to 6379 and 0")
    func defaults() throws {
        #expect(try RedisURL(parsing: "redis://localhost") == RedisURL(host: "localhost"))
        #expect(try RedisURL(parsing: "redis://[::1]:7000/") == RedisURL(host: "::1", port: 7000))
    }

    @Test("redis-sentinel:// lists Sentinels (port 26379 by default) and names the master group after #")
    func sentinel() throws {
        let url = try RedisURL(parsing: "redis-sentinel://app:pw@s1:26380,s2,[::1]:26381/3#chat")
        let expected = RedisSentinelGroup(
            sentinels: [.init(host: "s1", port: 26380), .init(host: "s2", port: 26379), .init(host: "::1", port: 26381)],
            masterName: "chat"
        )
        #expect(url == RedisURL(sentinel: expected, user: "app", password: "pw", database: 3))
        #expect(url.description == "redis-sentinel://app:***@s1:26380,s2:26379,[::1]:26381/3#chat")
        #expect(try RedisURL(parsing: "rediss-sentinel://s1#m").usesTLS)
        #expect(try RedisURL(parsing: "rediss-sentinel://s1#m").sentinel?.masterName == "m")
    }

    @Test("redis-cluster:// lists seed nodes (port 6379 by default); its nodes are reached with the same credentials and TLS")
    func cluster() throws {
        let url = try RedisURL(parsing: "rediss-cluster://app:pw@r1:7000,r2,[::1]:7002")
        #expect(url.clusterSeeds == [.init(host: "r1", port: 7000), .init(host: "r2", port: 6379), .init(host: "::1", port: 7002)])
        #expect(url.usesTLS && url.user == "app" && url.password == "pw" && url.sentinel == nil)
        #expect(url.description == "rediss-cluster://app:***@r1:7000,r2:6379,[::1]:7002")
        let node = url.node(.init(host: "10.0.0.9", port: 7005))
        #expect(node == RedisURL(host: "10.0.0.9", port: 7005, user: "app", password: "pw", usesTLS: true))
        #expect(try RedisURL(parsing: "redis-cluster://r1").clusterSeeds == [.init(host: "r1", port: 6379)])
    }

    @Test("malformed URLs are refused with a reason", arguments: [
        "redis-cluster://", "redis-cluster://r1,,r2", "redis-cluster://r1/2", "redis-cluster://r1:0",
        "http://localhost", "redis://", "redis://host:0", "redis://host:99999", "redis://host:abc", "redis://host/x", "localhost:6379",
        "redis-sentinel://s1:26379", "redis-sentinel://s1#", "redis-sentinel://s1,,s2#m", "redis-sentinel://#m",
    ])
    func malformed(_ text: String) {
        #expect(throws: RedisError.self) { try RedisURL(parsing: text) }
    }

    @Test("the description hides the password")
    func description() throws {
        #expect(!(try RedisURL(parsing: "redis://:hunter2@h:1")).description.contains("hunter2"))
    }
}
