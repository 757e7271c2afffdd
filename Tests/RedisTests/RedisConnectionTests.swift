import Foundation
import Logging
import NIOCore
import NIOPosix
import Redis
import TestSupport
import Testing

@Suite("Redis command connection", .serialized)
struct RedisConnectionTests {
    let logger = Logger(label: "test")

    @Test("10 000 pipelined commands get their replies in order")
    func pipeliningKeepsOrder() async throws {
        let server = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        try await connection.connect()
        let replies = try await connection.sendBatch((1...10_000).map { _ in RedisCommand(["INCR", "counter"]) })
        #expect(replies.map(\.integer) == (1...10_000).map { Int64($0) })
        await connection.shutdown()
    }

    @Test("concurrent callers each get their own reply")
    func concurrentCallers() async throws {
        let server = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        try await connection.connect()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<1000 {
                group.addTask {
                    let reply = try await connection.send("ECHO", "value-\(index)")
                    #expect(reply.string == "value-\(index)")
                }
            }
            try await group.waitForAll()
        }
        await connection.shutdown()
    }

    @Test("an error reply surfaces as an error carrying Redis's text")
    func errorReply() async throws {
        let server = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        try await connection.connect()
        try await connection.send("SET", "k", "not a number")
        let error = await #expect(throws: RedisError.self) { try await connection.send("INCR", "k") }
        #expect(error?.code == .errorReply)
        #expect(error?.message.contains("not an integer") == true)
        // The connection is still usable afterwards.
        #expect(try await connection.send("PING").string == "PONG")
        await connection.shutdown()
    }

    @Test("binary-safe values round-trip")
    func binarySafe() async throws {
        let server = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        try await connection.connect()
        let value: [UInt8] = [0, 13, 10, 255, 36, 42]
        _ = try await connection.send(RedisCommand([Array("SET".utf8), Array("bin".utf8), value]))
        #expect(try await connection.send("GET", "bin") == .bulk(value))
        await connection.shutdown()
    }

    @Test("AUTH is sent from the URL's password; a wrong one is refused; a missing one is asked for")
    func auth() async throws {
        let server = try await RedisServerProcess(password: "s3cret")
        let good = RedisConnection(url: try RedisURL(parsing: "redis://:s3cret@127.0.0.1:\(server.port)/1"), logger: logger)
        try await good.connect()
        #expect(try await good.send("PING").string == "PONG")
        await good.shutdown()

        let bad = RedisConnection(url: try RedisURL(parsing: "redis://:wrong@127.0.0.1:\(server.port)"), logger: logger)
        let error = await #expect(throws: RedisError.self) { try await bad.connect() }
        #expect(error?.code == .errorReply)

        let none = RedisConnection(url: try RedisURL(parsing: "redis://127.0.0.1:\(server.port)"), logger: logger)
        let missing = await #expect(throws: RedisError.self) { try await none.connect() }
        #expect(missing?.message.hasPrefix("Redis at 127.0.0.1:\(server.port) requires a password: put it in the URL") == true)
    }

    @Test("an ACL user in the URL sends AUTH user password; a wrong password or an unknown user is refused")
    func aclUser() async throws {
        let server = try await RedisServerProcess()
        defer { server.stop() }
        let admin = RedisConnection(url: RedisURL(host: "127.0.0.1", port: server.port), logger: logger)
        try await admin.connect()
        let created = try await admin.send("ACL", "SETUSER", "chat", "on", ">s3cret", "~*", "&*", "+@all")
        #expect(created.string == "OK")
        await admin.shutdown()

        let good = RedisConnection(url: try RedisURL(parsing: "redis://chat:s3cret@127.0.0.1:\(server.port)"), logger: logger)
        try await good.connect()
        #expect(try await good.send("ACL", "WHOAMI").string == "chat")
        await good.shutdown()
        for wrong in ["redis://chat:wrong@127.0.0.1:\(server.port)", "redis://nobody:s3cret@127.0.0.1:\(server.port)"] {
            let bad = RedisConnection(url: try RedisURL(parsing: wrong), logger: logger)
            let error = await #expect(throws: RedisError.self) { try await bad.connect() }
            #expect(error?.code == .errorReply)
        }
    }

    @Test("rediss:// speaks TLS, verifying the server against --redis-ca; another authority is refused")
    func tls() async throws {
        let certificates = try await TestCertificates.make()
        let server = try await RedisServerProcess(password: "s3cret", tls: certificates)
        defer { server.stop() }
        var url = try RedisURL(parsing: server.url)
        url.certificateAuthorityFile = certificates.authority
        let good = RedisConnection(url: url, logger: logger)
        try await good.connect()
        #expect(try await good.send("PING").string == "PONG")
        await good.shutdown()

        var untrusted = url
        untrusted.certificateAuthorityFile = try await TestCertificates.make().authority
        let bad = RedisConnection(url: untrusted, logger: logger)
        let error = await #expect(throws: RedisError.self) { try await bad.connect() }
        #expect(
            error?.message == "the certificate of Redis at 127.0.0.1:\(server.port) is not signed by an authority this node trusts (give that authority's PEM file with --redis-ca)",
            "\(String(describing: error))"
        )

        let systemTrust = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        await #expect(throws: RedisError.self) { try await systemTrust.connect() }
    }

    @Test("rediss:// to a server that speaks no TLS is refused with a sentence, not the TLS library's dump")
    func tlsToPlainServer() async throws {
        let server = try await RedisServerProcess()
        defer { server.stop() }
        let connection = RedisConnection(url: try RedisURL(parsing: "rediss://127.0.0.1:\(server.port)"), logger: logger)
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        let message = error?.message ?? ""
        for internalName in ["NIOSSL", "BoringSSL", ".cc:", "Error(", "handshakeFailed"] {
            #expect(!message.contains(internalName), "\(message)")
        }
        #expect(message.contains("127.0.0.1:\(server.port)"), "\(message)")
    }

    @Test("an unreachable server is a connectionFailed error that says why in plain words, and commands fail fast while down")
    func unreachable() async throws {
        let port = try FreePort.find()
        let connection = RedisConnection(url: RedisURL(host: "127.0.0.1", port: port), logger: logger)
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        #expect(error?.code == .connectionFailed)
        #expect(error?.message == "cannot connect to Redis at 127.0.0.1:\(port): connection refused")
        let sendError = await #expect(throws: RedisError.self) { try await connection.send("PING") }
        #expect(sendError?.code == .notConnected)
    }

    @Test("a server that is not Redis (an HTTP server on that port) is named as such")
    func notRedis() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HTTPRefusal()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        let connection = RedisConnection(url: RedisURL(host: "127.0.0.1", port: port), logger: logger)
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        #expect(error?.code == .protocolError)
        #expect(error?.message.hasPrefix("the server at 127.0.0.1:\(port) does not answer like Redis; check the port") == true, "\(String(describing: error))")
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test("the set-up (PING, AUTH, SELECT, a SCRIPT LOAD per script) goes out in one flush, before any reply")
    func setUpIsOneRoundTrip() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let received = SetUpRecorder()
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(received) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        let scripts = (1...5).map { RedisScript("return \($0)") }
        let connection = RedisConnection(
            url: try RedisURL(parsing: "redis://:secret@127.0.0.1:\(port)/2"), scripts: scripts, logger: logger
        )
        // The recorder answers nothing: only a pipelined set-up has sent every step by the deadline.
        _ = await #expect(throws: RedisError.self) { try await connection.connect() }
        let text = await received.text
        #expect(text.contains("PING"))
        #expect(text.contains("AUTH\r\n$6\r\nsecret"))
        #expect(text.contains("SELECT\r\n$1\r\n2"))
        for script in scripts { #expect(text.contains(script.source), "\(script.source) was sent before any reply") }
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test("a frozen server (SIGSTOP) that takes the connection fails the connect within the set-up deadline, saying it did not answer")
    func frozenServer() async throws {
        let server = try await RedisServerProcess()
        defer { server.stop() }
        server.pause()
        defer { server.resume() }
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        let started = ContinuousClock.now
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        // The health check (3 s without a reply) or the set-up deadline (4 s), whichever comes first.
        #expect(ContinuousClock.now - started < .seconds(8))
        #expect(error?.message.contains("did not answer") == true, "\(String(describing: error))")
    }

    @Test("a server that answers, but too slowly to finish the set-up within 4 s, fails the connect saying so")
    func slowSetUp() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SetUpRecorder(answerEvery: .milliseconds(900)))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(listener.localAddress?.port)
        let scripts = (1...10).map { RedisScript("return \($0)") }
        let connection = RedisConnection(url: RedisURL(host: "127.0.0.1", port: port), scripts: scripts, logger: logger)
        let error = await #expect(throws: RedisError.self) { try await connection.connect() }
        #expect(error?.code == .connectionFailed)
        #expect(
            error?.message == "Redis at 127.0.0.1:\(port) took the connection but did not answer the set-up commands within 4.0 s",
            "\(String(describing: error))"
        )
        try await listener.close()
        try await group.shutdownGracefully()
    }

    @Test("run() reconnects after the server restarts")
    func reconnects() async throws {
        let server = try await RedisServerProcess()
        let connection = RedisConnection(url: try RedisURL(parsing: server.url), logger: logger)
        try await connection.connect()
        let runner = Task { await connection.run() }
        var states = await connection.connectionStates().makeAsyncIterator()
        #expect(await states.next() == true)
        server.stop()
        #expect(await states.next() == false)
        try await server.start()
        #expect(await states.next() == true)
        #expect(try await connection.send("PING").string == "PONG")
        await connection.shutdown()
        runner.cancel()
        await runner.value
    }
}

/// Answers whatever arrives the way an HTTP server answers bytes that are not HTTP.
private final class HTTPRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in context.close(promise: nil) }
    }
}

/// Keeps what a client sends; answers nothing, or `+OK` at a slow pace.
private final class SetUpRecorder: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: `bytes` is guarded by `lock`; the rest is set in `init`.
    typealias InboundIn = ByteBuffer
    private let answerEvery: TimeAmount?
    private var bytes: [UInt8] = []
    private let lock = NSLock()

    init(answerEvery: TimeAmount? = nil) {
        self.answerEvery = answerEvery
    }

    var text: String {
        get async { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let answerEvery {
            let channel = context.channel
            context.eventLoop.scheduleRepeatedTask(initialDelay: answerEvery, delay: answerEvery) { task in
                guard channel.isActive else { return task.cancel() }
                channel.writeAndFlush(ByteBuffer(string: "+OK\r\n"), promise: nil)
            }
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        lock.withLock { bytes += buffer.readableBytesView }
    }
}
