import ChatProtocol
import TestSupport
import Testing

@Suite("chat.v2.json: presence in batches")
struct PresenceBatchingTests {
    private static let v2 = "chat.v2.json"

    @Test("changes within one interval arrive as one presence event with the net changes")
    func netChanges() async throws {
        // The interval is long so that two joins and a disconnect fit in one
        // even on a loaded machine; the batch goes out when it ends.
        try await withNode({ $0.presenceInterval = .seconds(5) }) { node in
            let (alice, welcome) = try await node.join("alice", subprotocol: Self.v2)
            var list = PresenceTracker(welcome: welcome)
            let (bob, _) = try await node.join("bob")
            let (carl, _) = try await node.join("carl")
            await bob.disconnect()
            let others = await list.drain(alice, quiet: .milliseconds(5500))
            #expect(others.isEmpty, "a v2 client never gets joined or left: \(others)")
            #expect(list.presenceEvents == 1)
            #expect(list.violations.isEmpty, "\(list.violations)")
            #expect(list.users == ["alice", "carl"])
            await carl.disconnect()
        }
    }

    @Test("held changes go out before a message, so a user is listed before their first line")
    func flushBeforeMessage() async throws {
        try await withNode({ $0.presenceInterval = .seconds(5) }) { node in
            let (alice, welcome) = try await node.join("alice", subprotocol: Self.v2)
            var list = PresenceTracker(welcome: welcome)
            let (bob, _) = try await node.join("bob")
            try await bob.send(#"{"type":"say","text":"hi"}"#)
            let first = try #require(await alice.nextMessage(timeout: .seconds(2)))
            let isPresence = list.apply(first)
            #expect(isPresence, "expected presence first, got \(first)")
            #expect(list.users == ["alice", "bob"])
            #expect(await alice.nextMessage(timeout: .seconds(2))?.string("text") == "hi")
        }
    }

    @Test("in a storm of joins and leaves: at most one event per interval, no rule broken, and the list equals who once quiet")
    func storm() async throws {
        try await withNode({ $0.presenceInterval = .milliseconds(200) }) { node in
            let (alice, welcome) = try await node.join("alice", subprotocol: Self.v2)
            let watcher = Task {
                var list = PresenceTracker(welcome: welcome)
                var timestamps: [Int64] = []
                while let event = await alice.nextMessage(timeout: .seconds(3)) {
                    if list.apply(event), let ts = event["ts"]?.int64Value { timestamps.append(ts) }
                }
                return (list, timestamps)
            }
            let clients = try await withThrowingTaskGroup(of: WebSocketTestClient.self) { group in
                for index in 0..<40 {
                    group.addTask { try await node.join("user\(index)", subprotocol: index % 2 == 0 ? Self.v2 : "chat.v1.json").0 }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for client in clients.prefix(15) { await client.disconnect() }
            let (list, timestamps) = await watcher.value
            #expect(list.violations.isEmpty, "\(list.violations)")
            try await alice.send(#"{"type":"who"}"#)
            let who = try #require(await alice.next(ofType: "users"))
            #expect(list.users == Set(who.strings("users") ?? []))
            #expect(list.users.count == 26)
            for (earlier, later) in zip(timestamps, timestamps.dropFirst()) {
                #expect(later - earlier >= 190, "two presence events \(later - earlier) ms apart")
            }
        }
    }

    @Test("a client welcomed in the middle of a batch gets only what changed after its welcome")
    func welcomedMidBatch() async throws {
        try await withNode({ $0.presenceInterval = .seconds(1) }) { node in
            let (alice, aliceWelcome) = try await node.join("alice", subprotocol: Self.v2)
            var aliceList = PresenceTracker(welcome: aliceWelcome)
            let (bob, _) = try await node.join("bob")
            let (carl, carlWelcome) = try await node.join("carl", subprotocol: Self.v2)
            #expect(carlWelcome.strings("users") == ["alice", "bob", "carl"])
            var carlList = PresenceTracker(welcome: carlWelcome)
            await bob.disconnect()
            // Bob's departure goes out with the next batch (1 s); a loaded machine may take longer.
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                _ = await aliceList.drain(alice, quiet: .seconds(1))
            } while aliceList.users != ["alice", "carl"] && ContinuousClock.now < deadline
            repeat {
                _ = await carlList.drain(carl, quiet: .seconds(1))
            } while carlList.users != ["alice", "carl"] && ContinuousClock.now < deadline
            #expect(aliceList.violations.isEmpty, "\(aliceList.violations)")
            #expect(carlList.violations.isEmpty, "\(carlList.violations)")
            #expect(aliceList.users == ["alice", "carl"])
            #expect(carlList.users == ["alice", "carl"])
            #expect(carlList.presenceEvents == 1, "carl sees bob leave")
        }
    }

    @Test("v1 and v2 clients share a node: v1 gets joined/left, v2 presence, both the same messages")
    func mixedVersions() async throws {
        try await withNode({ $0.presenceInterval = .milliseconds(100) }) { node in
            let (old, _) = try await node.join("old")
            let (new, newWelcome) = try await node.join("new", subprotocol: Self.v2)
            #expect(newWelcome["resumed"] == .bool(false))
            var list = PresenceTracker(welcome: newWelcome)
            #expect(await old.next(ofType: "joined")?.string("nick") == "new")
            let (third, _) = try await node.join("third")
            try await third.send(#"{"type":"say","text":"to all"}"#)
            #expect(await old.next(ofType: "joined")?.string("nick") == "third")
            let oldLine = await old.next(ofType: "message")
            var newLine: [String: JSONValue]?
            while newLine == nil, let event = await new.nextMessage() {
                if !list.apply(event) { newLine = event }
            }
            #expect(oldLine != nil && oldLine == newLine)
            #expect(list.users == ["new", "old", "third"])
        }
    }
}
