import Logging
import Redis
import TestSupport
import Testing

@Suite("Redis subscriber", .serialized)
struct RedisSubscriberTests {
    let logger = Logger(label: "test")

    /// A connected publisher and subscriber for `server`.
    private func connectedPair(to server: RedisServerProcess, bufferedMessages: Int = 4096) async throws -> (RedisConnection, RedisSubscriber) {
        let url = try RedisURL(parsing: server.url)
        let publisher = RedisConnection(url: url, logger: logger)
        let subscriber = RedisSubscriber(url: url, logger: logger, bufferedMessages: bufferedMessages)
        try await publisher.connect()
        try await subscriber.connect()
        return (publisher, subscriber)
    }

    @Test("a published message arrives on the subscribed channel")
    func roundTrip() async throws {
        let server = try await RedisServerProcess()
        let (publisher, subscriber) = try await connectedPair(to: server)
        try await subscriber.subscribe(["room"])
        #expect(try await publisher.send("PUBLISH", "room", "hello").integer == 1)
        var messages = subscriber.messages.makeAsyncIterator()
        let message = try #require(await messages.next())
        #expect(message == RedisPubSubMessage(channel: "room", payload: Array("hello".utf8)))
        await subscriber.shutdown()
        await publisher.shutdown()
    }

    @Test("subscribing to several channels at once waits for every confirmation")
    func severalChannels() async throws {
        let server = try await RedisServerProcess()
        let (publisher, subscriber) = try await connectedPair(to: server)
        try await subscriber.subscribe(["a", "b", "c"])
        for channel in ["a", "b", "c"] {
            #expect(try await publisher.send("PUBLISH", channel, channel).integer == 1)
        }
        await subscriber.shutdown()
        await publisher.shutdown()
    }

    @Test("pattern subscriptions report the pattern and the channel")
    func patterns() async throws {
        let server = try await RedisServerProcess()
        let (publisher, subscriber) = try await connectedPair(to: server)
        try await subscriber.psubscribe(["node.*"])
        try await publisher.send("PUBLISH", "node.7", "x")
        var messages = subscriber.messages.makeAsyncIterator()
        #expect(await messages.next() == RedisPubSubMessage(channel: "node.7", pattern: "node.*", payload: Array("x".utf8)))
        await subscriber.shutdown()
        await publisher.shutdown()
    }

    @Test("many messages arrive in publish order")
    func order() async throws {
        let server = try await RedisServerProcess()
        let (publisher, subscriber) = try await connectedPair(to: server, bufferedMessages: 64)
        try await subscriber.subscribe(["seq"])
        let count = 5000
        _ = try await publisher.sendBatch((0..<count).map { RedisCommand(["PUBLISH", "seq", String($0)]) })
        var received: [Int] = []
        for await message in subscriber.messages {
            received.append(Int(String(decoding: message.payload, as: UTF8.self))!)
            if received.count == count { break }
        }
        #expect(received == Array(0..<count))
        await subscriber.shutdown()
        await publisher.shutdown()
    }

    @Test("after a server restart the subscriber re-subscribes and later messages arrive")
    func survivesRestart() async throws {
        let server = try await RedisServerProcess()
        let (publisher, subscriber) = try await connectedPair(to: server)
        try await subscriber.subscribe(["room"])
        let runners = [Task { await publisher.run() }, Task { await subscriber.run() }]

        var states = await subscriber.connectionStates().makeAsyncIterator()
        #expect(await states.next() == true)
        server.stop()
        #expect(await states.next() == false)
        try await server.start()
        #expect(await states.next() == true)

        // The re-SUBSCRIBE may still be in flight: publish until a subscriber counts it.
        var delivered: Int64 = 0
        for _ in 0..<200 where delivered == 0 {
            delivered = (try? await publisher.send("PUBLISH", "room", "after restart"))?.integer ?? 0
            if delivered == 0 { try await Task.sleep(for: .milliseconds(25)) }
        }
        #expect(delivered == 1)
        var messages = subscriber.messages.makeAsyncIterator()
        #expect(await messages.next()?.payload == Array("after restart".utf8))

        await subscriber.shutdown()
        await publisher.shutdown()
        runners.forEach { $0.cancel() }
        for runner in runners { await runner.value }
    }

    @Test("a subscription Redis refuses (an ACL user without that channel) throws NOPERM instead of waiting for ever")
    func refusedSubscription() async throws {
        let server = try await RedisServerProcess()
        let (admin, _) = try await connectedPair(to: server)
        _ = try await admin.send(RedisCommand(["ACL", "SETUSER", "narrow", "on", ">pw", "~*", "resetchannels", "&allowed", "+@all"]))
        let subscriber = RedisSubscriber(url: try RedisURL(parsing: "redis://narrow:pw@127.0.0.1:\(server.port)"), logger: logger)
        try await subscriber.connect()
        try await subscriber.subscribe(["allowed"])
        let error = await #expect(throws: RedisError.self) { try await subscriber.subscribe(["forbidden"]) }
        #expect(error?.message.contains("NOPERM") == true, "\(String(describing: error))")
        await subscriber.shutdown()
        await admin.shutdown()
    }
}
