import ChatProtocol
import Foundation
import TestSupport
import Testing

@testable import ChatNode

@Suite("One user, several connections (§7): one nick, shown once, held until the last connection ends")
struct SeveralConnectionsTests {
    /// Runs `body` with `--auth-key` on every node and a token per user.
    private func run(_ setup: RoomsSetup, _ body: ([TestNode], (String) async throws -> String) async throws -> Void) async throws {
        let keys = try await sharedLoginKeys.value
        try await setup.run({
            $0.authKey = keys.hs256
            $0.presenceInterval = .milliseconds(50)
        }) { nodes in
            try await body(nodes) { sub in try await keys.token(sub: sub) }
        }
    }

    private func connect(_ node: TestNode, _ nick: String, token: String, subprotocol: String = "chat.v3.json") async throws -> WebSocketTestClient {
        let client = try await node.connect(subprotocols: [subprotocol])
        _ = try await client.hello(nick, token: token)
        return client
    }

    @Test("two tabs of one user share the nick; another user gets nick_taken until the last tab closes", arguments: RoomsSetup.allCases)
    func nickHeldUntilLastConnection(setup: RoomsSetup) async throws {
        try await run(setup) { nodes, token in
            let ann = try await token("ann-id")
            let other = try await token("someone-else")
            let first = try await connect(nodes[0], "ann", token: ann)
            let second = try await connect(nodes[nodes.count - 1], "ANN", token: ann)
            let impostor = try await nodes[0].connect(subprotocols: ["chat.v3.json"])
            try await impostor.send(#"{"type":"hello","nick":"ann","token":"\#(other)"}"#)
            #expect(await impostor.nextErrorCode() == "nick_taken")
            await first.disconnect()
            try await Task.sleep(for: .milliseconds(300))
            try await impostor.send(#"{"type":"hello","nick":"ann","token":"\#(other)"}"#)
            #expect(await impostor.nextErrorCode() == "nick_taken", "the second tab still holds the nick")
            await second.disconnect()
            var taken = true
            let deadline = ContinuousClock.now + .seconds(5)
            while taken, ContinuousClock.now < deadline {
                try await impostor.send(#"{"type":"hello","nick":"ann","token":"\#(other)","ref":"h"}"#)
                taken = await impostor.nextMessage()?.string("type") != "welcome"
                if taken { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!taken, "the nick is free once its last connection ended")
        }
    }

    @Test("in a room the user is listed once; it leaves when its last connection there parts", arguments: RoomsSetup.allCases)
    func presenceOnce(setup: RoomsSetup) async throws {
        try await run(setup) { nodes, token in
            let watcher = try await connect(nodes[0], "watcher", token: try await token("watcher-id"))
            _ = try await watcher.enter("team")
            let ann = try await token("ann-id")
            let first = try await connect(nodes[nodes.count - 1], "ann", token: ann)
            let second = try await connect(nodes[1 % nodes.count], "ann", token: ann)
            _ = try await first.enter("team")
            let joined = try #require(await watcher.next(ofType: "presence"))
            #expect(joined["joined"] == .array([.string("ann")]))
            #expect(joined.integer("count") == 2)
            let room = try await second.enter("team")
            #expect(room.integer("count") == 2, "the second tab does not count twice")
            #expect(room["users"] == .array([.string("ann"), .string("watcher")]))
            try await first.send(#"{"type":"part","room":"team"}"#)
            #expect(await first.next(ofType: "parted")?.string("reason") == "part")
            #expect(await watcher.next(ofType: "presence", timeout: .milliseconds(600)) == nil, "still in the room through the second tab")
            try await watcher.send(#"{"type":"who","room":"team","ref":"w"}"#)
            #expect(await watcher.next(ofType: "users")?["users"] == .array([.string("ann"), .string("watcher")]))
            try await second.send(#"{"type":"part","room":"team"}"#)
            let left = try #require(await watcher.next(ofType: "presence"))
            guard case .array(let departures) = left["left"], case .object(let departure) = departures.first else {
                Issue.record("no left entry in \(left)")
                return
            }
            #expect(departure.string("nick") == "ann" && departure.string("reason") == "part")
            #expect(left.integer("count") == 1)
        }
    }

    @Test("a whisper reaches every connection of the user; a line from one tab reaches the other", arguments: RoomsSetup.allCases)
    func whisperToEveryConnection(setup: RoomsSetup) async throws {
        try await run(setup) { nodes, token in
            let ann = try await token("ann-id")
            let first = try await connect(nodes[0], "ann", token: ann)
            let second = try await connect(nodes[nodes.count - 1], "ann", token: ann)
            let bob = try await connect(nodes[1 % nodes.count], "bob", token: try await token("bob-id"))
            try await bob.send(#"{"type":"whisper","to":"ann","text":"psst"}"#)
            #expect(await first.next(ofType: "direct")?.string("text") == "psst")
            #expect(await second.next(ofType: "direct")?.string("text") == "psst")
            #expect(await bob.next(ofType: "direct")?.string("text") == "psst")
            _ = try await first.enter("pair")
            _ = try await second.enter("pair")
            try await first.send(#"{"type":"say","room":"pair","text":"from tab one"}"#)
            #expect(await second.next(ofType: "message")?.string("text") == "from tab one")
            #expect(await first.next(ofType: "message")?.string("text") == "from tab one")
        }
    }

    @Test("v1 tabs of one user in lobby: joined once, left with the last", arguments: RoomsSetup.allCases)
    func lobbyTabs(setup: RoomsSetup) async throws {
        try await run(setup) { nodes, token in
            let watcher = try await connect(nodes[0], "watcher", token: try await token("watcher-id"), subprotocol: "chat.v1.json")
            let ann = try await token("ann-id")
            let first = try await connect(nodes[nodes.count - 1], "ann", token: ann, subprotocol: "chat.v1.json")
            #expect(await watcher.next(ofType: "joined")?.string("nick") == "ann")
            let second = try await nodes[1 % nodes.count].connect(subprotocols: ["chat.v1.json"])
            let welcome = try await second.hello("ann", token: ann)
            #expect(welcome["users"] == .array([.string("ann"), .string("watcher")]))
            #expect(await watcher.nextMessage(timeout: .milliseconds(500)) == nil, "no second joined")
            await first.disconnect()
            #expect(await watcher.nextMessage(timeout: .milliseconds(800)) == nil, "no left while a tab remains")
            await second.disconnect()
            let left = try #require(await watcher.next(ofType: "left"))
            #expect(left.string("nick") == "ann" && left.string("reason") == "quit")
        }
    }
}
