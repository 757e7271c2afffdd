import ChatProtocol
import Redis

extension RedisBus {
    /// Runs the connections, liveness and reaping, and handles the inbox,
    /// until `stop()` (then leaves the cluster first) or cancellation.
    nonisolated func run() async {
        await runUntilStopped()
        // Only now that nothing runs on it any more can the Redis event loop
        // stop, and only from off that loop (this function is not isolated to the bus).
        try? await redisLoops?.shutdownGracefully()
    }

    private func runUntilStopped() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.commands.run() }
            group.addTask { await self.subscriber.run() }
            let inbox = self.inbox
            if let watcher = RedisSentinelWatcher(url: commands.url, eventLoop: redisLoop, logger: logger, onFailover: { master in
                inbox.post(.failover(master))
            }) {
                group.addTask { await watcher.run() }
            }
            group.addTask {
                for await isUp in await self.commands.connectionStates() { inbox.post(.connection(.commands, isUp: isUp)) }
            }
            group.addTask {
                for await isUp in await self.subscriber.connectionStates() { inbox.post(.connection(.subscriber, isUp: isUp)) }
            }
            await commands.onShardChange { inbox.post(.shard($0)) }
            await subscriber.onShardChange { inbox.post(.shard($0)) }
            let beacon = LivenessBeacon(
                connection: commands,
                commands: livenessCommands,
                nodeTTL: nodeTTL,
                eventLoop: redisLoop,
                metrics: metrics,
                logger: logger
            ) {
                inbox.post(.reaped)
            }
            beacon.start()
            group.addTask { await self.every(min(self.nodeTTL / 4, .milliseconds(500))) { try await $0.reapDeadInstances() } }
            // Cancellation ends this loop too, but has already closed the connections.
            for await input in inbox.inputs {
                if case .stop = input { beacon.stop() }
                await handle(input, in: &group)
                if link.isStopped { break }
            }
            beacon.stop()
            group.cancelAll()
        }
    }

    /// Ends `run()` once the node has left the cluster, while the connections are still up.
    nonisolated func stop() async {
        inbox.post(.stop)
    }

    private func handle(_ input: Input, in group: inout DiscardingTaskGroup) async {
        switch input {
        case .presence(let presence):
            arrange(core.receive(presence))
        case .leave(let member, let reason):
            // Releasing waits for Redis; the inbox goes on meanwhile.
            group.addTask { await self.depart(member, reason: reason) }
        case .connection(let connection, let isUp):
            switch connection {
            case .commands: metrics.redisCommandsUp.record(isUp ? 1 : 0)
            case .subscriber: metrics.redisSubscriberUp.record(isUp ? 1 : 0)
            }
            await perform(link.connection(connection, isUp: isUp), in: &group)
        case .reaped:
            guard !core.users.isEmpty else { return }
            await perform(link.reaped(), in: &group)
        case .failover(let master):
            await perform(link.failover(to: master), in: &group)
        case .shard(.lost(let master)):
            // Its rooms' lines and nicks answer `unavailable` until it is back; the lines in flight
            // of its rooms wait for each room's catch-up (`channelsChanged`).
            logger.warning("a Redis Cluster master is unreachable: what lives in its slots is unavailable until it is back", metadata: [
                "master": "\(master)"
            ])
        case .shard(.recovered(let master)):
            logger.info("a Redis Cluster shard serves again; resynchronising", metadata: ["master": "\(master)"])
            await perform(link.shardRecovered(master), in: &group)
        case .resynchronisationFinished(let succeeded):
            await perform(link.resynchronisationFinished(succeeded: succeeded), in: &group)
        case .stop:
            await perform(link.stopRequested(), in: &group)
        }
    }

    private func perform(_ actions: [RedisLinkStateMachine.Action], in group: inout DiscardingTaskGroup) async {
        for action in actions {
            switch action {
            case .reportUnreachable:
                logger.warning("Redis unreachable: refusing chat until it is back")
            case .releaseLinesInFlight:
                releaseLinesInFlight()
            case .startResynchronisation:
                group.addTask {
                    let succeeded = await self.resynchronize()
                    self.inbox.post(.resynchronisationFinished(succeeded: succeeded))
                }
            case .reportPresumedDead:
                logger.warning("this node was presumed dead by the cluster; registering its users again")
            case .followFailover(let master):
                metrics.redisFailovers.increment()
                // A connection that found the new master by itself (the old one died) stays.
                await commands.reconnect(unlessConnectedTo: master)
                await subscriber.reconnect(unlessConnectedTo: master)
            case .withdraw:
                await withdraw()
                link.withdrawn()
            }
        }
    }

    private func every(_ interval: Duration, _ body: @Sendable (isolated RedisBus) async throws -> Void) async {
        while !Task.isCancelled {
            if isAvailable {
                do {
                    try await body(self)
                } catch {
                    logger.debug("cluster maintenance failed", metadata: ["error": "\(NetworkFailure.sentence(for: error))"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// The commands that refresh this instance's liveness key; `SADD`
    /// answers 1 when the instance had been reaped as dead.
    var livenessCommands: [RedisCommand] {
        let ttl = max(Int64(nodeTTL.components.seconds * 1000 + nodeTTL.components.attoseconds / 1_000_000_000_000_000), 100)
        return [
            RedisCommand(["SET", keys.alive(instance), nodeID, "PX", String(ttl)]),
            RedisCommand(["SADD", keys.instances, instance]),
        ]
    }

    /// On shutdown: tells the cluster this instance is gone and closes Redis.
    private func withdraw() async {
        let goodbye = [
            RedisCommand(["DEL", keys.alive(instance)]),
            RedisCommand(["SREM", keys.instances, instance]),
        ]
        let outcome = await awaitShutdownStep(within: .seconds(1)) { () async -> Result<Void, BusError> in
            do throws(BusError) {
                _ = try await self.batch(goodbye)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        // Harmless either way, but worth knowing: the others reap this node once its key expires.
        let reason: String? = switch outcome {
        case .success: nil
        case .failure(let error): error.message
        case nil: "Redis did not answer within 1 s"
        }
        if let reason {
            logger.notice("could not withdraw from Redis; other nodes forget this node after --node-ttl", metadata: ["error": "\(reason)"])
        }
        await commands.shutdown()
        await subscriber.shutdown()
    }
}
