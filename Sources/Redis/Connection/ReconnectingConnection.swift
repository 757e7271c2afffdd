import Logging
import NIOCore

/// An actor that holds one connection to Redis and makes a new one
/// whenever it drops, with backoff, until it is shut down or its task is
/// cancelled. `RedisConnection` and `RedisSubscriber` share this loop and
/// the reporting of their connection state; each says how it connects.
protocol ReconnectingConnection: Actor {
    /// What the log lines call this connection ("Redis connection", "Redis subscriber").
    static var name: String { get }
    nonisolated var url: RedisURL { get }
    nonisolated var eventLoop: any EventLoop { get }
    var logger: Logger { get }
    /// The connection that is up, if any.
    var channel: (any Channel)? { get }
    var isShutDown: Bool { get }
    var backoff: Backoff { get set }
    var observers: RedisConnectionObservers { get set }

    /// Makes a connection and attaches it; resets `backoff` on success.
    func connect() async throws(RedisError)
}

extension ReconnectingConnection {
    /// Keeps the connection up until the task is cancelled or the connection is shut down.
    func keepConnected() async {
        while !isShutDown && !Task.isCancelled {
            if let channel {
                // Cancelling the task closes the connection, which ends this wait.
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                continue
            }
            do {
                try await connect()
                logger.info("\(Self.name) established", metadata: ["redis": "\(url)"])
            } catch {
                logger.debug("\(Self.name) attempt failed", metadata: ["error": "\(NetworkFailure.sentence(for: error))"])
                try? await Task.sleep(for: backoff.nextDelay())
            }
        }
    }

    /// Drops the current connection, unless it goes to `address`, so that
    /// the loop connects again at once: behind Sentinel, to the master the
    /// Sentinels name now.
    func dropConnection(unlessConnectedTo address: RedisServerAddress) {
        guard let channel, !address.isRemote(of: channel) else { return }
        channel.close(promise: nil)
    }

    /// A stream of the connection state, now and at every change.
    func makeConnectionStates() -> AsyncStream<Bool> {
        let eventLoop = self.eventLoop
        return observers.makeStream(current: channel != nil) { [weak self] id in
            guard let self else { return }
            // The actor runs on its event loop: forgetting the observer needs no task.
            eventLoop.execute { self.assumeIsolated { $0.observers.remove(id) } }
        }
    }
}
