import Foundation
import Logging
import NIOPosix
import Redis
import TestSupport
import Testing

@Suite("Redis behind Sentinel: finding and following the master", .serialized)
struct RedisSentinelTests {
    let logger = Logger(label: "test")

    @Test("a connection goes to the master the Sentinels name, with the master's password")
    func connectsToTheMaster() async throws {
        let deployment = try await RedisSentinelDeployment(password: "pw")
        try await deployment.waitUntilReady()
        let connection = RedisConnection(url: try RedisURL(parsing: deployment.url(password: "pw")), logger: logger)
        try await connection.connect()
        let port = try await connection.send("CONFIG", "GET", "port").array?.last?.string
        #expect(port == String(deployment.master.port))
        #expect(try await connection.send("SET", "k", "v") == .status("OK"))
        await connection.shutdown()
    }

    @Test("an ACL user the master refuses ROLE is told that a node behind Sentinel needs +role")
    func roleRefused() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        let admin = RedisConnection(url: try RedisURL(parsing: deployment.master.url), logger: logger)
        try await admin.connect()
        _ = try await admin.send(RedisCommand(["ACL", "SETUSER", "narrow", "on", ">pw", "~*", "&*", "+@all", "-role"]))
        await admin.shutdown()
        let url = deployment.url().replacingOccurrences(of: "redis-sentinel://", with: "redis-sentinel://narrow:pw@")
        let connection = RedisConnection(url: try RedisURL(parsing: url), logger: logger)
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        #expect(error?.message.contains("+role") == true, "\(String(describing: error))")
        #expect(error?.message.contains("NOPERM") == true)
    }

    @Test("rediss-sentinel:// reaches the Sentinels and the master over TLS, checked against --redis-ca")
    func overTLS() async throws {
        let certificates = try await TestCertificates.make()
        let deployment = try await RedisSentinelDeployment(tls: certificates)
        try await deployment.waitUntilReady()
        var url = try RedisURL(parsing: deployment.url())
        #expect(url.usesTLS)
        url.certificateAuthorityFile = certificates.authority
        let connection = RedisConnection(url: url, logger: logger)
        try await connection.connect()
        let port = try await connection.send("CONFIG", "GET", "tls-port").array?.last?.string
        #expect(port == String(deployment.master.port))
        await connection.shutdown()

        url.certificateAuthorityFile = try await TestCertificates.make().authority
        let untrusting = RedisConnection(url: url, logger: logger)
        await #expect(throws: RedisError.self) { try await untrusting.connect() }
    }

    @Test("a READONLY reply (the master was demoted) drops the connection so that it asks the Sentinels again")
    func readOnlyDropsTheConnection() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        let connection = RedisConnection(url: try RedisURL(parsing: deployment.url()), logger: logger)
        try await connection.connect()
        // Demote the master by hand, behind the Sentinels' back.
        try await connection.send("REPLICAOF", "127.0.0.1", String(deployment.replica.port))
        await #expect(throws: RedisError.self) { try await connection.send("SET", "k", "v") }
        var dropped = false
        for _ in 0..<50 where !dropped {
            dropped = !(await connection.isConnected)
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(dropped)
        await connection.shutdown()
    }

    @Test("the Sentinels' failover announcement names the new master")
    func switchMasterAnnouncement() async throws {
        let deployment = try await RedisSentinelDeployment()
        try await deployment.waitUntilReady()
        let announcements = AsyncStream.makeStream(of: RedisServerAddress.self)
        let watcher = try #require(
            RedisSentinelWatcher(
                url: try RedisURL(parsing: deployment.url()), eventLoop: MultiThreadedEventLoopGroup.singleton.any(), logger: logger
            ) { announcements.continuation.yield($0) }
        )
        let watching = Task { await watcher.run() }
        defer { watching.cancel() }
        try await Task.sleep(for: .milliseconds(300))
        try await deployment.failOver()
        var iterator = announcements.stream.makeAsyncIterator()
        #expect(await iterator.next() == RedisServerAddress(host: "127.0.0.1", port: deployment.replica.port))
    }
}
