import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// A connect storm against running nodes: how long until every user has
/// joined and every user list is complete, what it costs the servers, how
/// much memory each idle joined connection holds, and how long a node with
/// its users takes to shut down. It reports what it measured; it asserts nothing.
struct StormBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "Connect many users at once, then measure presence, memory and shutdown."
    )

    @Option(parsing: .upToNextOption, help: "Node ports; users are spread over them round-robin") var ports: [Int]
    @Option(help: "Users to connect") var users = 1000
    @Option(help: "Subprotocol the users speak: chat.v1.json, chat.v2.json or chat.v3.json") var subprotocol = "chat.v1.json"
    @Option(help: "chat.v3.json: the room every user joins after hello (a user counts as joined at its room reply)") var room = "storm"
    @Option(help: "chat.v3.json: rooms each user joins besides --room, each shared by about --extra-room-size users") var extraRooms = 0
    @Option(help: "chat.v3.json: how many users share each of the extra rooms") var extraRoomSize = 20
    @Flag(help: "Offer permessage-deflate, as browsers do") var deflate = false
    @Option(help: "Prefix of the users' nicks (u0, u1, ...)") var nickPrefix = "u"
    @Option(help: "Handshakes (connect to welcome) in flight at once") var inFlight = 500
    @Option(help: "File of login tokens, one per line: user i says hello with token i (for nodes started with --auth-key)") var tokenFile: String?
    @Option(help: "Loopback source addresses to spread over (127.0.0.2, 127.0.0.3, ...)") var sources = 4
    @Option(help: "Clients that keep their user list and compare it with who") var sample = 20
    @Option(parsing: .upToNextOption, help: "Server processes (pids) whose CPU and memory to measure") var pids: [Int32] = []
    @Option(help: "Seconds to wait for every list to be complete") var timeout = 300.0
    @Option(help: "Seconds to stay idle before measuring memory") var idle = 3.0
    @Option(help: "After the storm, SIGTERM this node process and time its exit") var drainPid: Int32?
    @Option(help: "The port of the node given by --drain-pid") var drainPort: Int?

    /// `IP_BIND_ADDRESS_NO_PORT` from `<linux/in.h>` (Linux 4.2+), which Glibc does not export.
    private static let ipBindAddressNoPort: CInt = 24

    func run() async throws {
        let tokens = try tokenFile.map { path in
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        } ?? []
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        let stats = StormStats()
        let before = ProcessSample.read(pids)
        let (settled, settledContinuation) = AsyncStream<Void>.makeStream()
        var sampled: [(channel: any Channel, handler: NIOLoopBound<StormClientHandler>)] = []
        var pending = 0
        var iterator = settled.makeAsyncIterator()
        let sampleEvery = max(users / max(sample, 1), 1)

        for index in 0..<users {
            while pending >= inFlight {
                _ = await iterator.next()
                pending -= 1
            }
            pending += 1
            let port = ports[index % ports.count]
            let keepsList = index % sampleEvery == 0 && sampled.count < sample
            let bootstrap = ClientBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                // The port is picked at connect time, by the whole address pair. Without this,
                // bind must find a port free on its own, scanning every socket in TIME_WAIT from
                // earlier runs: whole seconds of kernel time per storm, in bursts.
                .channelOption(.ipOption(.init(rawValue: Self.ipBindAddressNoPort)), value: 1)
                .bind(to: try SocketAddress(ipAddress: "127.0.0.\(2 + index % max(sources, 1))", port: 0))
                .channelInitializer { [users, subprotocol, deflate, nickPrefix, room, extraRooms, extraRoomSize, tokens] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            StormClientHandler(
                                nick: "\(nickPrefix)\(index)", token: tokens.isEmpty ? nil : tokens[index % tokens.count], port: port, subprotocol: subprotocol, room: subprotocol == "chat.v3.json" ? room : nil,
                                extraRooms: (0..<extraRooms).map { "x\($0)-\(index % max(users / max(extraRoomSize, 1), 1))" },
                                offersCompression: deflate, expectedUsers: users, keepsList: keepsList, stats: stats
                            ) {
                                settledContinuation.yield()
                            }
                        )
                    }
                }
            // An address, not a host name: no resolver and no happy-eyeballs race per connection.
            let connecting = bootstrap.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port))
            connecting.whenFailure { _ in
                stats.failed.add(1, ordering: .relaxed)
                settledContinuation.yield()
            }
            if keepsList {
                let channel = try await connecting.get()
                let handler = try await channel.eventLoop.submit {
                    NIOLoopBound(try channel.pipeline.syncOperations.handler(type: StormClientHandler.self), eventLoop: channel.eventLoop)
                }.get()
                sampled.append((channel, handler))
            }
        }
        while pending > 0 {
            _ = await iterator.next()
            pending -= 1
        }
        let joinedAt = seconds(nanoseconds: stats.lastWelcomeAt.load(ordering: .relaxed))
        let welcomed = stats.welcomed.load(ordering: .relaxed)
        let deadline = ContinuousClock.now + .seconds(timeout)
        while stats.complete.load(ordering: .relaxed) < welcomed, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let stormCPU = ProcessSample.read(pids).cpuSeconds - before.cpuSeconds
        let completeAt = seconds(nanoseconds: stats.lastCompleteAt.load(ordering: .relaxed))
        let presenceEvents = stats.joinedEvents.load(ordering: .relaxed)

        // Sampled lists against who.
        for (channel, handler) in sampled {
            channel.eventLoop.execute { handler.value.sendWho() }
        }
        try await Task.sleep(for: .seconds(2))
        var listsEqual = 0
        for (channel, handler) in sampled {
            let equal = try await channel.eventLoop.submit {
                let client = handler.value
                guard let answer = client.whoAnswer else { return false }
                // v3: a page of the room (the first 1000), against the count the client keeps.
                if client.isInRoom { return client.whoCount == client.count && answer.count == min(client.count, 1000) }
                return answer.count == client.list.count && Set(answer) == client.list
            }.get()
            if equal { listsEqual += 1 }
        }

        try await Task.sleep(for: .seconds(idle))
        let idleSample = ProcessSample.read(pids)
        let perConnection = welcomed > 0 ? Double(idleSample.residentBytes - before.residentBytes) / Double(welcomed) : 0

        print("storm: \(users) \(subprotocol)\(deflate ? " (deflate offered, \(stats.compressedFrames.load(ordering: .relaxed)) frames came compressed)" : "") users over \(ports.count) node(s), \(inFlight) handshakes in flight, \(sources) source addresses")
        print(String(format: "  joined: %d, failed: %d, last welcome after %.2f s, every list complete after %.2f s (%d of %d complete)",
                     welcomed, stats.failed.load(ordering: .relaxed), joinedAt, completeAt, stats.complete.load(ordering: .relaxed), welcomed))
        print("  closes: 1008 \(stats.closedPolicy.load(ordering: .relaxed)), other \(stats.closedOther.load(ordering: .relaxed)); errors \(stats.errors.load(ordering: .relaxed)); left events \(stats.leftEvents.load(ordering: .relaxed)) (node_down \(stats.nodeDownEvents.load(ordering: .relaxed)))")
        print("  sampled lists equal to who: \(listsEqual) of \(sampled.count)")
        if !pids.isEmpty {
            print(String(format: "  server CPU during the storm: %.2f s (%.2f ms per join); joins delivered: %d (%.0f per server CPU-second) in %d presence events",
                         stormCPU, stormCPU * 1000 / Double(max(welcomed, 1)), presenceEvents, Double(presenceEvents) / max(stormCPU, 0.001),
                         stats.presenceEvents.load(ordering: .relaxed)))
            print(String(format: "  server RSS: %.1f MB before, %.1f MB with %d idle users: %.2f KB per joined connection",
                         Double(before.residentBytes) / 1e6, Double(idleSample.residentBytes) / 1e6, welcomed, perConnection / 1024))
        }
        var result = String(format: "RESULT subprotocol=\(subprotocol) users=%d joined=%d failed=%d join_s=%.3f complete_s=%.3f cpu_s=%.3f presence_events=%d slow_closes=%d node_down=%d lists_equal=%d/%d kb_per_conn=%.2f",
                            users, welcomed, stats.failed.load(ordering: .relaxed), joinedAt, completeAt, stormCPU, presenceEvents,
                            stats.closedPolicy.load(ordering: .relaxed), stats.nodeDownEvents.load(ordering: .relaxed), listsEqual, sampled.count, perConnection / 1024)

        if let drainPid {
            let drainedUsers = drainPort.map { port in (0..<users).filter { ports[$0 % ports.count] == port }.count } ?? users
            let expectedLefts = drainedUsers * (welcomed - drainedUsers)
            let leftBefore = stats.leftEvents.load(ordering: .relaxed)
            let signalled = ContinuousClock.now
            kill(drainPid, SIGTERM)
            while ProcessSample.isRunning(drainPid), ContinuousClock.now - signalled < .seconds(60) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let exitedAfter = ContinuousClock.now - signalled
            // The node may exit before this process has read every close frame it sent.
            while stats.leftEvents.load(ordering: .relaxed) - leftBefore < expectedLefts
                || stats.closedGoingAway.load(ordering: .relaxed) < drainedUsers,
                ContinuousClock.now - signalled < .seconds(120)
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            let leftsAfter = ContinuousClock.now - signalled
            let lefts = stats.leftEvents.load(ordering: .relaxed) - leftBefore
            print(String(format: "  SIGTERM with %d users on the node: exited after %.2f s; %d clients closed with 1001; others got %d of %d left events, the last after %.2f s",
                         drainedUsers, seconds(exitedAfter), stats.closedGoingAway.load(ordering: .relaxed), lefts, expectedLefts, seconds(leftsAfter)))
            result += String(format: " drain_users=%d drain_exit_s=%.3f going_away=%d lefts=%d/%d lefts_s=%.3f",
                             drainedUsers, seconds(exitedAfter), stats.closedGoingAway.load(ordering: .relaxed), lefts, expectedLefts, seconds(leftsAfter))
        }
        print(result)
        try await group.shutdownGracefully()
    }

    private func seconds(nanoseconds: Int) -> Double { Double(nanoseconds) / 1e9 }
    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
