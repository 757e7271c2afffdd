import ChatProtocol
import Testing

@Suite("Chat on one node")
struct ChatFlowTests {
    @Test("hello gets welcome with canonical nick, node id, users and history; others get joined")
    func helloWelcomeJoined() async throws {
        try await withNode { node in
            let (alice, aliceWelcome) = try await node.join("alice")
            #expect(aliceWelcome.string("nick") == "alice")
            #expect(aliceWelcome.string("node") == "test-node")
            #expect(aliceWelcome.strings("users") == ["alice"])
            #expect(aliceWelcome["history"] == .array([]))

            let (_, bobWelcome) = try await node.join("Bob")
            #expect(bobWelcome.strings("users") == ["alice", "Bob"])
            let joined = try #require(await alice.nextMessage())
            #expect(joined.string("type") == "joined")
            #expect(joined.string("nick") == "Bob")
            #expect(joined["ts"] != nil)
        }
    }

    @Test("the canonical nick is NFC and clashes are case-insensitive")
    func nickCanonicalAndClash() async throws {
        try await withNode { node in
            let (_, welcome) = try await node.join("A\u{030A}sa")
            #expect(welcome.string("nick").map { Array($0.unicodeScalars) } == Array("\u{00C5}sa".unicodeScalars))
            let other = try await node.connect()
            try await other.send(#"{"type":"hello","nick":"åsa","ref":"h1"}"#)
            let error = try #require(await other.nextMessage())
            #expect(error.string("type") == "error")
            #expect(error.string("code") == "nick_taken")
            #expect(error.string("ref") == "h1")
        }
    }

    @Test("say reaches everyone, the sender's copy alone carries ref")
    func sayBroadcast() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            _ = await alice.nextMessage()  // joined bob
            try await alice.send(#"{"type":"say","text":"<b>hi</b> & \"you\"","ref":"r1"}"#)
            let own = try #require(await alice.nextMessage())
            let other = try #require(await bob.nextMessage())
            for event in [own, other] {
                #expect(event.string("type") == "message")
                #expect(event.string("from") == "alice")
                #expect(event.string("text") == "<b>hi</b> & \"you\"")
                #expect(event["ts"] != nil)
            }
            #expect(own.string("id") == other.string("id"))
            #expect(own.string("ref") == "r1")
            #expect(other["ref"] == nil)
        }
    }

    @Test("whisper reaches only the recipient and the sender, matched case-insensitively")
    func whisper() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("Bob")
            let (carol, _) = try await node.join("carol")
            _ = await alice.nextMessage(); _ = await alice.nextMessage(); _ = await bob.nextMessage()
            try await alice.send(#"{"type":"whisper","to":"BOB","text":"psst","ref":"w"}"#)
            let own = try #require(await alice.nextMessage())
            let received = try #require(await bob.nextMessage())
            #expect(own.string("type") == "direct")
            #expect(own.string("to") == "Bob")
            #expect(own.string("ref") == "w")
            #expect(received.string("from") == "alice")
            #expect(received.string("to") == "Bob")
            #expect(received["ref"] == nil)
            #expect(await carol.nextMessage(timeout: .milliseconds(300)) == nil)
        }
    }

    @Test("a whisper to oneself arrives once; to nobody is no_such_user")
    func whisperSelfAndNobody() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            try await alice.send(#"{"type":"whisper","to":"alice","text":"note to self"}"#)
            #expect(await alice.nextMessage()?.string("type") == "direct")
            try await alice.send(#"{"type":"whisper","to":"ghost","text":"hello?","ref":"g"}"#)
            let error = try #require(await alice.nextMessage())
            #expect(error.string("code") == "no_such_user")
            #expect(error.string("ref") == "g")
        }
    }

    @Test("who lists every joined user sorted by lowercased nick")
    func who() async throws {
        try await withNode { node in
            let (zed, _) = try await node.join("zed")
            _ = try await node.join("Anna")
            _ = try await node.join("bob")
            try await zed.send(#"{"type":"who","ref":"u"}"#)
            var users: [String: JSONValue]?
            while users == nil, let event = await zed.nextMessage() {
                if event.string("type") == "users" { users = event }
            }
            #expect(users?.strings("users") == ["Anna", "bob", "zed"])
            #expect(users?.string("ref") == "u")
        }
    }

    @Test("ping gets pong before and after joining")
    func ping() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"ping","ref":"p"}"#)
            let pong = try #require(await client.nextMessage())
            #expect(pong.string("type") == "pong")
            #expect(pong.string("ref") == "p")
        }
    }

    @Test("left with quit when a joined client disconnects")
    func leftQuit() async throws {
        try await withNode { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            _ = await alice.nextMessage()
            await bob.disconnect()
            let left = try #require(await alice.nextMessage())
            #expect(left.string("type") == "left")
            #expect(left.string("nick") == "bob")
            #expect(left.string("reason") == "quit")
            // The nick is free again.
            _ = try await node.join("bob")
        }
    }

    @Test("history holds the last 50 messages, oldest first")
    func history() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice")
            for index in 1...55 {
                try await alice.send(#"{"type":"say","text":"line \#(index)"}"#)
            }
            for _ in 1...55 { _ = await alice.nextMessage() }
            let (_, welcome) = try await node.join("late")
            guard case .array(let history) = welcome["history"] else { Issue.record("no history"); return }
            #expect(history.count == 50)
            let texts = history.compactMap { value -> String? in
                guard case .object(let line) = value else { return nil }
                return line.string("text")
            }
            #expect(texts.first == "line 6")
            #expect(texts.last == "line 55")
        }
    }

    @Test("1000 messages from one sender arrive in order at every recipient")
    func ordering() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            _ = await alice.nextMessage()
            for index in 0..<1000 {
                try await alice.send(#"{"type":"say","text":"\#(index)"}"#)
            }
            for client in [alice, bob] {
                var received: [String] = []
                while received.count < 1000, let event = await client.nextMessage() {
                    if let text = event.string("text") { received.append(text) }
                }
                #expect(received == (0..<1000).map(String.init))
            }
        }
    }

    @Test("one sender's lines and whispers reach a recipient in the order sent, while others chat too")
    func orderOfLinesAndWhispers() async throws {
        try await withNode({ $0.rate = 0 }) { node in
            let (alice, _) = try await node.join("alice")
            let (bob, _) = try await node.join("bob")
            let (carol, _) = try await node.join("carol")
            _ = await alice.nextMessage(); _ = await alice.nextMessage(); _ = await bob.nextMessage()
            for index in 0..<300 {
                if index % 3 == 0 {
                    try await alice.send(#"{"type":"whisper","to":"bob","text":"\#(index)"}"#)
                } else {
                    try await alice.send(#"{"type":"say","text":"\#(index)"}"#)
                }
                try await carol.send(#"{"type":"say","text":"noise"}"#)
            }
            var fromAlice: [String] = []
            while fromAlice.count < 300, let event = await bob.nextMessage() {
                if event.string("from") == "alice", let text = event.string("text") { fromAlice.append(text) }
            }
            #expect(fromAlice == (0..<300).map(String.init))
        }
    }
}
