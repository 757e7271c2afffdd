import ChatProtocol
import TestSupport
import Testing

@Suite("chat.v2.json: resume after the last message seen")
struct ResumeTests {
    private static let v2 = "chat.v2.json"

    private func say(_ client: WebSocketTestClient, _ texts: some Sequence<String>) async throws -> [String] {
        var ids: [String] = []
        for text in texts {
            try await client.send(#"{"type":"say","text":"\#(text)"}"#)
            ids.append(try #require(await client.next(ofType: "message")?.string("id")))
        }
        return ids
    }


    @Test("a known since gives every later message, resumed true; none later gives an empty history")
    func knownSince() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice", subprotocol: Self.v2)
            let ids = try await say(alice, (1...5).map { "line \($0)" })
            let (bob, welcome) = try await node.join("bob", subprotocol: Self.v2, since: ids[1])
            #expect(welcome["resumed"] == .bool(true))
            #expect(welcome.historyIDs == Array(ids[2...]))
            let (_, upToDate) = try await node.join("carl", subprotocol: Self.v2, since: ids[4])
            #expect(upToDate["resumed"] == .bool(true))
            #expect(upToDate.historyIDs.isEmpty)
            await bob.disconnect()
        }
    }

    @Test("an unknown since is no error: the last 50 messages, resumed false")
    func unknownSince() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice", subprotocol: Self.v2)
            let ids = try await say(alice, (1...60).map { "line \($0)" })
            let (_, welcome) = try await node.join("bob", subprotocol: Self.v2, since: "no-such-message")
            #expect(welcome["resumed"] == .bool(false))
            #expect(welcome.historyIDs == Array(ids.suffix(50)))
            let (_, fresh) = try await node.join("carl", subprotocol: Self.v2)
            #expect(fresh["resumed"] == .bool(false))
        }
    }

    @Test("a since that is not a string of 1-64 characters is bad_message and the client may try again")
    func invalidSince() async throws {
        try await withNode { node in
            let client = try await node.connect(subprotocols: [Self.v2])
            try await client.send(#"{"type":"hello","nick":"alice","since":42,"ref":"h"}"#)
            let error = await client.nextMessage()
            #expect(error?.string("code") == "bad_message")
            #expect(error?.string("ref") == "h")
            try await client.send(#"{"type":"hello","nick":"alice","since":""}"#)
            #expect(await client.nextMessage()?.string("code") == "bad_message")
            try await client.send(#"{"type":"hello","nick":"alice"}"#)
            #expect(await client.nextMessage()?.string("type") == "welcome")
        }
    }

    @Test("the last 1000 messages are kept for resuming")
    func retention() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice", subprotocol: Self.v2)
            var ids: [String] = []
            for batch in stride(from: 0, to: 1100, by: 100) {
                for index in batch..<(batch + 100) { try await alice.send(#"{"type":"say","text":"\#(index)"}"#) }
                for _ in 0..<100 { ids.append(try #require(await alice.next(ofType: "message")?.string("id"))) }
            }
            let (_, oldestKept) = try await node.join("bob", subprotocol: Self.v2, since: ids[100])
            #expect(oldestKept["resumed"] == .bool(true))
            #expect(oldestKept.historyIDs == Array(ids[101...]))
            let (_, tooOld) = try await node.join("carl", subprotocol: Self.v2, since: ids[99])
            #expect(tooOld["resumed"] == .bool(false))
            #expect(tooOld.historyIDs == Array(ids.suffix(50)))
        }
    }

    @Test("v1 ignores since: the last messages, and no resumed field")
    func v1IgnoresSince() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            let ids = try await say(alice, ["a", "b", "c"])
            let (_, welcome) = try await node.join("bob", since: ids[0])
            #expect(welcome.historyIDs == ids)
            #expect(welcome["resumed"] == nil)
        }
    }
}
