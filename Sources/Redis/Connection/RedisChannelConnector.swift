import NIOCore
import NIOPosix

/// Opens a TCP connection to Redis and authenticates it.
enum RedisChannelConnector {
    /// Connects, installs the command handler, then sends `AUTH` and `SELECT`
    /// as the URL asks. The channel is closed again when any step fails.
    static func connect(
        to url: RedisURL,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount = .seconds(2),
        onPush: (@Sendable (RedisPush) -> Bool)? = nil
    ) async throws(RedisError) -> any Channel {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(onPush: onPush))
                    }
                }
                .connect(host: url.host, port: url.port)
                .get()
        } catch {
            throw RedisError(.connectionFailed, "cannot connect to Redis at \(url.host):\(url.port): \(error)")
        }
        do {
            if let password = url.password {
                let command = url.user.map { RedisCommand(["AUTH", $0, password]) } ?? RedisCommand(["AUTH", password])
                try await expectOK(command, on: channel, what: url.user.map { "AUTH as user \($0)" } ?? "AUTH")
            }
            if url.database != 0 {
                try await expectOK(RedisCommand(["SELECT", String(url.database)]), on: channel, what: "SELECT \(url.database)")
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    private static func expectOK(_ command: RedisCommand, on channel: any Channel, what: String) async throws(RedisError) {
        let reply = try await send(command, on: channel)
        if case .error(let text) = reply {
            throw RedisError(.errorReply, "Redis refused \(what): \(text)")
        }
    }

    /// Writes one command and waits for its reply.
    static func send(_ command: RedisCommand, on channel: any Channel) async throws(RedisError) -> RedisReply {
        let promise = channel.eventLoop.makePromise(of: RedisReply.self)
        channel.writeAndFlush(RedisRequest(command: command, reply: .promise(promise)), promise: nil)
        do {
            return try await promise.futureResult.get()
        } catch let error as RedisError {
            throw error
        } catch {
            throw .notConnected("Redis connection failed: \(error)")
        }
    }
}
