import Logging
import Redis
import TestSupport
import Testing

@Suite("Lua scripts by SHA-1", .serialized)
struct RedisScriptTests {
    let logger = Logger(label: "test")

    @Test("a script is named by the SHA-1 of its source (FIPS 180 test vectors)")
    func sha1TestVectors() {
        #expect(RedisScript("").sha1 == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(RedisScript("abc").sha1 == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(RedisScript("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").sha1 == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(RedisScript(String(repeating: "a", count: 1000)).sha1 == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test("a connection loads its scripts when it connects, so EVALSHA works at once, under the name Redis gives them")
    func scriptsAreLoadedOnConnect() async throws {
        let server = try await RedisServerProcess()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1]) .. ' — Åsa'")
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), scripts: [script], logger: logger)
        try await connection.connect()
        let reply = try await connection.send(script.command(keys: [Array("n".utf8)], arguments: [Array("5".utf8)]))
        #expect(reply.string == "5 — Åsa")
        let loaded = try await connection.send("SCRIPT", "LOAD", script.source)
        #expect(loaded.string == script.sha1)
        await connection.shutdown()
    }

    @Test("after SCRIPT FLUSH, EVALSHA is refused with NOSCRIPT until the next connection loads the scripts again")
    func flushedScriptsComeBackWithTheNextConnection() async throws {
        let server = try await RedisServerProcess()
        let script = RedisScript("return 7")
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), scripts: [script], logger: logger)
        let running = Task { await connection.run() }
        while !(await connection.isConnected) { try await Task.sleep(for: .milliseconds(10)) }
        _ = try await connection.send("SCRIPT", "FLUSH")
        await #expect(throws: RedisError.self) { try await connection.send(script.command(keys: [], arguments: [])) }
        #expect(try await connection.send(script.sourceCommand(keys: [], arguments: [])).integer == 7)
        _ = try await connection.send("SCRIPT", "FLUSH")
        _ = try? await connection.send("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
        var reply: RedisReply?
        for _ in 0..<200 where reply == nil {
            reply = try? await connection.send(script.command(keys: [], arguments: []))
            if reply == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(reply?.integer == 7)
        await connection.shutdown()
        running.cancel()
    }
}
