import Logging
import NIOCore
import NIOPosix

/// Listens to a Sentinel group's `+switch-master` announcements and reports
/// each failover of the watched master, so connections can move to the new
/// master at once instead of waiting to notice the old one is gone.
///
/// It stays subscribed on one Sentinel at a time and moves on to the next
/// when that one becomes unreachable.
public actor RedisSentinelWatcher {
    private nonisolated let url: RedisURL
    private nonisolated let group: RedisSentinelGroup
    private nonisolated let eventLoop: any EventLoop
    private let logger: Logger
    private let onFailover: @Sendable (RedisServerAddress) -> Void
    private var backoff = Backoff()

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Creates a watcher for `url`'s Sentinel group; `onFailover` receives the new
    /// master's address on the event loop. Nil when `url` names no Sentinels.
    public init?(
        url: RedisURL,
        eventLoop: any EventLoop,
        logger: Logger,
        onFailover: @escaping @Sendable (RedisServerAddress) -> Void
    ) {
        guard let group = url.sentinel else { return nil }
        self.url = url
        self.group = group
        self.eventLoop = eventLoop
        self.logger = logger
        self.onFailover = onFailover
    }

    /// Watches until the task is cancelled.
    public func run() async {
        var next = 0
        while !Task.isCancelled {
            let sentinel = group.sentinels[next % group.sentinels.count]
            next += 1
            do {
                let channel = try await subscribe(on: sentinel)
                backoff.reset()
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                // Dropped: the next Sentinel takes over at once.
            } catch {
                logger.debug("cannot watch Sentinel", metadata: ["sentinel": "\(sentinel)", "error": "\(NetworkFailure.sentence(for: error))"])
                try? await Task.sleep(for: backoff.nextDelay())
            }
        }
    }

    private func subscribe(on sentinel: RedisServerAddress) async throws(RedisError) -> any Channel {
        let tls = try RedisChannelConnector.makeTLSContext(for: url)
        let masterName = group.masterName
        let onFailover = self.onFailover
        let logger = self.logger
        let channel = try await RedisChannelConnector.open(
            url.sentinelConnection(to: sentinel), tls: tls, on: eventLoop, connectTimeout: .seconds(2)
        ) { push in
            guard case .message(let message) = push, message.channel == "+switch-master",
                let newMaster = Self.newMaster(of: masterName, in: message.payload)
            else { return true }
            logger.warning("Sentinel announced a new master", metadata: ["master": "\(masterName)", "address": "\(newMaster)"])
            onFailover(newMaster)
            return true
        }
        channel.writeAndFlush(RedisRequest(command: RedisCommand(["SUBSCRIBE", "+switch-master"]), reply: .push), promise: nil)
        return channel
    }

    /// The new address in a `+switch-master` payload (`name old-ip old-port new-ip new-port`) about `masterName`.
    static func newMaster(of masterName: String, in payload: [UInt8]) -> RedisServerAddress? {
        let fields = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard fields.count == 5, fields[0] == masterName, let port = Int(fields[4]) else { return nil }
        return RedisServerAddress(host: String(fields[3]), port: port)
    }
}
