import NIOCore
import NIOPosix
import NIOSSL

/// Opens a TCP (or TLS) connection to Redis and authenticates it; for a
/// Sentinel URL, asks the Sentinels for the master first.
enum RedisChannelConnector {
    /// Connects, installs the command handler, then sends `AUTH` and `SELECT`
    /// as the URL asks and loads `scripts`. The channel is closed again when any step fails.
    static func connect(
        to url: RedisURL,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount = .seconds(2),
        scripts: [RedisScript] = [],
        onPush: (@Sendable (RedisPush) -> Bool)? = nil
    ) async throws(RedisError) -> any Channel {
        let tls = try makeTLSContext(for: url)
        if let seeds = url.clusterSeeds {
            // Any node of a cluster will do (a subscriber's classic pub/sub reaches the whole cluster): the first that answers.
            var failures: [String] = []
            for seed in seeds {
                do {
                    return try await open(url.node(seed), tls: tls, on: eventLoop, connectTimeout: connectTimeout, scripts: scripts, onPush: onPush)
                } catch {
                    failures.append(error.message)
                }
            }
            throw RedisError(.connectionFailed, "no seed node of the Redis Cluster answered: \(failures.joined(separator: "; "))")
        }
        guard let group = url.sentinel else {
            return try await open(url, tls: tls, on: eventLoop, connectTimeout: connectTimeout, scripts: scripts, onPush: onPush)
        }
        let master = try await SentinelMasterLookup.master(
            of: group, tls: tls, on: eventLoop, connectTimeout: connectTimeout
        ) { sentinel in url.sentinelConnection(to: sentinel) }
        var direct = url
        direct.sentinel = nil
        direct.host = master.host
        direct.port = master.port
        return try await open(
            direct, tls: tls, on: eventLoop, connectTimeout: connectTimeout, requireMaster: true, scripts: scripts, onPush: onPush
        )
    }

    /// The TLS context `url` asks for, if any.
    static func makeTLSContext(for url: RedisURL) throws(RedisError) -> NIOSSLContext? {
        guard url.usesTLS else { return nil }
        do {
            return try makeTLSContext(trusting: url.certificateAuthorityFile)
        } catch {
            throw RedisError(.connectionFailed, "cannot set up TLS for Redis: \(NetworkFailure.sentence(for: error))")
        }
    }

    /// Connects to the server `url` names directly and runs the set-up steps.
    /// With `requireMaster`, a server that is not a master (Sentinel's answer
    /// was stale) is refused, so the caller asks again.
    static func open(
        _ url: RedisURL,
        tls: NIOSSLContext?,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount,
        requireMaster: Bool = false,
        scripts: [RedisScript] = [],
        onPush: (@Sendable (RedisPush) -> Bool)? = nil
    ) async throws(RedisError) -> any Channel {
        // SNI and name checks take a host name; an IP address is checked against the certificate's IP entries.
        let serverHostname = url.host.isIPAddress ? nil : url.host
        let channel: any Channel
        let handshake = tls.map { _ in eventLoop.makePromise(of: Void.self) }
        do {
            channel = try await ClientBootstrap(group: eventLoop)
                .connectTimeout(connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                        }
                        if let handshake {
                            try channel.pipeline.syncOperations.addHandler(TLSHandshakeCompletion(done: handshake))
                        }
                        // Behind Sentinel, a READONLY reply means this master was demoted: reconnect to ask again.
                        try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(closesWhenReadOnly: requireMaster, onPush: onPush))
                    }
                }
                .connect(host: url.host, port: url.port)
                .get()
        } catch {
            handshake?.fail(ChannelError.ioOnClosedChannel)
            throw RedisError(.connectionFailed, "cannot connect to Redis at \(url.address): \(NetworkFailure.sentence(for: error))")
        }
        // A server that takes the connection but never answers must not hold the
        // caller forever: the set-up steps must finish within the connect timeout.
        let setUpTimeout = connectTimeout * 2
        let deadline = channel.eventLoop.scheduleTask(in: setUpTimeout) {
            let seconds = Double(setUpTimeout.nanoseconds) / 1e9
            let reason = RedisError(
                .connectionFailed, "Redis at \(url.address) took the connection but did not answer the set-up commands within \(seconds) s"
            )
            channel.triggerUserOutboundEvent(RedisCloseRequest(reason: reason), promise: nil)
        }
        defer { deadline.cancel() }
        // Cancelling the caller (a node shutting down) abandons the set-up at once.
        let outcome = await withTaskCancellationHandler {
            do throws(RedisError) {
                try await setUp(channel, url: url, handshake: handshake, requireMaster: requireMaster, scripts: scripts)
                return Result<Void, RedisError>.success(())
            } catch {
                return .failure(error)
            }
        } onCancel: {
            channel.close(promise: nil)
        }
        if case .failure(let error) = outcome {
            try? await channel.close()
            if error.code == .protocolError {
                // Usually a wrong port: something else (an HTTP server, say) answered.
                throw RedisError(.protocolError, "the server at \(url.address) does not answer like Redis; check the port (\(error.message))")
            }
            throw error
        }
        return channel
    }

    /// The steps after TCP (and TLS): the server must answer `PING`, then
    /// `AUTH`, `SELECT` and, behind Sentinel, `ROLE` as the URL asks; then
    /// `SCRIPT LOAD` for each script (a restarted or promoted server has none).
    ///
    /// The steps go out in one flush and their replies are checked in order,
    /// so a connection is up after one round trip however many scripts there
    /// are; a refused step makes the later ones fail too, and the first
    /// refusal is what the caller hears.
    private static func setUp(
        _ channel: any Channel, url: RedisURL, handshake: EventLoopPromise<Void>?, requireMaster: Bool, scripts: [RedisScript]
    ) async throws(RedisError) {
        if let handshake {
            do {
                try await handshake.futureResult.get()
            } catch {
                throw RedisError(.connectionFailed, TLSFailure.sentence(for: error, server: url.address))
            }
        }
        var steps: [SetUpStep] = [
            // A server must answer before the connection counts as up: a frozen or
            // partitioned one still completes TCP handshakes from its backlog.
            SetUpStep(RedisCommand(["PING"])) { (reply: RedisReply) throws(RedisError) in
                guard case .error(let text) = reply else { return }
                // PING before AUTH is refused with NOAUTH, which still proves the server answers.
                guard text.hasPrefix("NOAUTH") else { throw RedisError(.errorReply, "Redis refused PING: \(text)") }
                guard url.password != nil else {
                    throw RedisError(
                        .errorReply,
                        "Redis at \(url.address) requires a password: put it in the URL, redis://:PASSWORD@host:port (or USER:PASSWORD@ for an ACL user)"
                    )
                }
            }
        ]
        if let password = url.password {
            let command = url.user.map { RedisCommand(["AUTH", $0, password]) } ?? RedisCommand(["AUTH", password])
            steps.append(.expectingOK(command, what: url.user.map { "AUTH as user \($0)" } ?? "AUTH"))
        }
        if url.database != 0 {
            steps.append(.expectingOK(RedisCommand(["SELECT", String(url.database)]), what: "SELECT \(url.database)"))
        }
        if requireMaster {
            steps.append(
                SetUpStep(RedisCommand(["ROLE"])) { (reply: RedisReply) throws(RedisError) in
                    if case .error(let text) = reply {
                        throw RedisError(.errorReply, "Redis refused ROLE, which a node behind Sentinel needs (+role for an ACL user): \(text)")
                    }
                    guard reply.array?.first?.string == "master" else {
                        throw RedisError(.connectionFailed, "the Sentinels named \(url.address) as master, but it is not one (yet)")
                    }
                }
            )
        }
        for script in scripts {
            steps.append(
                SetUpStep(script.loadCommand) { (reply: RedisReply) throws(RedisError) in
                    if case .error(let text) = reply { throw RedisError(.errorReply, "Redis refused SCRIPT LOAD: \(text)") }
                }
            )
        }
        let replies = try await sendBatch(steps.map(\.command), on: channel)
        for (step, reply) in zip(steps, replies) {
            try step.check(reply)
        }
    }

    /// A set-up command and what its reply must be.
    private struct SetUpStep {
        var command: RedisCommand
        var check: (RedisReply) throws(RedisError) -> Void

        init(_ command: RedisCommand, check: @escaping (RedisReply) throws(RedisError) -> Void) {
            self.command = command
            self.check = check
        }

        static func expectingOK(_ command: RedisCommand, what: String) -> SetUpStep {
            SetUpStep(command) { (reply: RedisReply) throws(RedisError) in
                if case .error(let text) = reply { throw RedisError(.errorReply, "Redis refused \(what): \(text)") }
            }
        }
    }

    /// A client TLS context that verifies the server against `caFile`'s authorities, or the system's.
    private static func makeTLSContext(trusting caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Writes one command and waits for its reply.
    static func send(_ command: RedisCommand, on channel: any Channel) async throws(RedisError) -> RedisReply {
        try await sendBatch([command], on: channel)[0]
    }

    /// Writes several commands in one flush and waits for all their replies, in order.
    static func sendBatch(_ commands: [RedisCommand], on channel: any Channel) async throws(RedisError) -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        let batch = RedisReplyBatch(expected: commands.count, promise: channel.eventLoop.makePromise())
        channel.eventLoop.execute {
            // If the channel closed before the writes reached the command handler (a
            // refused TLS handshake can close it at any moment), the handler never
            // sees them: the failed write must fail the batch, or it waits forever.
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenFailure { error in
                batch.fail(RedisError.notConnected("Redis connection closed before the command was sent: \(NetworkFailure.sentence(for: error))"))
            }
            for command in commands.dropLast() {
                channel.write(RedisRequest(command: command, reply: .batch(batch)), promise: nil)
            }
            if let last = commands.last {
                channel.writeAndFlush(RedisRequest(command: last, reply: .batch(batch)), promise: written)
            }
        }
        return try await batch.promise.futureResult.redisValue()
    }
}

extension String {
    /// Whether this is an IPv4 or IPv6 address literal rather than a host name.
    fileprivate var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}
