import ChatProtocol
import Testing

@Suite("Encoding server events (chat.v1.json)")
struct EncodingTests {
    private func json(_ event: ServerEvent) -> String {
        String(decoding: ChatV1Codec.encode(event), as: UTF8.self)
    }

    @Test("message carries ref only when given")
    func message() {
        let line = ChatLine(id: "m1", from: "alice", text: "hi", ts: 1_700_000_000_000)
        #expect(json(.message(line, ref: nil)) == #"{"type":"message","id":"m1","from":"alice","text":"hi","ts":1700000000000}"#)
        #expect(json(.message(line, ref: "r")) == #"{"type":"message","id":"m1","from":"alice","text":"hi","ts":1700000000000,"ref":"r"}"#)
    }

    @Test("welcome lists users and history")
    func welcome() {
        let line = ChatLine(id: "m1", from: "bob", text: "yo", ts: 5)
        let event = ServerEvent.welcome(nick: "alice", node: "n1", users: ["alice", "bob"], history: [line], resumed: false, ref: "h")
        #expect(json(event) == #"{"type":"welcome","nick":"alice","node":"n1","users":["alice","bob"],"history":[{"type":"message","id":"m1","from":"bob","text":"yo","ts":5}],"ref":"h"}"#)
    }

    @Test("the other events")
    func others() {
        #expect(json(.joined(nick: "a", ts: 1)) == #"{"type":"joined","nick":"a","ts":1}"#)
        #expect(json(.left(nick: "a", ts: 2, reason: .nodeDown)) == #"{"type":"left","nick":"a","ts":2,"reason":"node_down"}"#)
        #expect(json(.users(["a"], ref: nil)) == #"{"type":"users","users":["a"]}"#)
        #expect(json(.pong(ref: nil)) == #"{"type":"pong"}"#)
        #expect(json(.direct(DirectLine(id: "d", from: "a", to: "b", text: "t", ts: 3), ref: nil))
            == #"{"type":"direct","id":"d","from":"a","to":"b","text":"t","ts":3}"#)
        #expect(json(.error(code: .nickTaken, message: "taken", ref: "x")) == #"{"type":"error","code":"nick_taken","message":"taken","ref":"x"}"#)
    }

    @Test("strings are escaped exactly: quote, backslash, control characters and DEL; everything else as it is")
    func stringEscapes() {
        #expect(JSONWriter.encodedString("plain Åsa 👩‍👩‍👧") == Array(#""plain Åsa 👩‍👩‍👧""#.utf8))
        #expect(JSONWriter.encodedString("a\"b\\c\nd\te\rf\u{01}g\u{1F}h\u{7F}") == Array(#""a\"b\\c\nd\te\rf\u0001g\u001fh\u007f""#.utf8))
        #expect(JSONWriter.encodedString("\"") == Array(#""\"""#.utf8))
        #expect(JSONWriter.encodedString("") == Array(#""""#.utf8))
        var bytes = Array("[".utf8)
        JSONWriter.appendEncodedString("x\ny", to: &bytes)
        #expect(bytes == Array(#"["x\ny""#.utf8))
    }

    @Test("text round-trips exactly, whatever it contains")
    func roundTrip() throws {
        let texts = ["<img src=x onerror=\"window.pwned=1\">", "quote \" backslash \\ newline \n tab \t", "é vs e\u{0301}", "👩‍👩‍👧 \u{200D}", "\u{2028}\u{2029}"]
        for text in texts {
            let bytes = ChatV1Codec.encode(.message(ChatLine(id: "1", from: "a", text: text, ts: 0), ref: nil))
            let parsed = try JSONParser.parse(bytes)
            guard case .object(let object) = parsed else { Issue.record("not an object"); continue }
            #expect(object["text"]?.stringValue.map { Array($0.unicodeScalars) } == Array(text.unicodeScalars))
        }
    }
}

@Suite("Encoding server events (chat.v2.json)")
struct V2EncodingTests {
    private func json(_ event: ServerEvent) -> String {
        String(decoding: ChatV2Codec.encode(event), as: UTF8.self)
    }

    @Test("welcome always says whether it resumed")
    func welcome() {
        let line = ChatLine(id: "m1", from: "bob", text: "yo", ts: 5)
        let event = ServerEvent.welcome(nick: "Åsa", node: "n2", users: ["bob", "Åsa"], history: [line], resumed: true, ref: "h1")
        #expect(json(event) == #"{"type":"welcome","nick":"Åsa","node":"n2","users":["bob","Åsa"],"history":[{"type":"message","id":"m1","from":"bob","text":"yo","ts":5}],"resumed":true,"ref":"h1"}"#)
        let fresh = ServerEvent.welcome(nick: "a", node: "n", users: ["a"], history: [], resumed: false, ref: nil)
        #expect(json(fresh) == #"{"type":"welcome","nick":"a","node":"n","users":["a"],"history":[],"resumed":false}"#)
    }

    @Test("presence lists joined nicks and departures with their reasons")
    func presence() {
        let changes = PresenceChanges(joined: ["carl", "dora"], left: [.init(nick: "eve", reason: .timeout)])
        #expect(json(.presence(changes, ts: 1_764_403_200_311))
            == #"{"type":"presence","joined":["carl","dora"],"left":[{"nick":"eve","reason":"timeout"}],"ts":1764403200311}"#)
        #expect(json(.presence(PresenceChanges(joined: ["a"]), ts: 1)) == #"{"type":"presence","joined":["a"],"left":[],"ts":1}"#)
    }

    @Test("every other event is written as in v1")
    func sameAsV1() {
        let events: [ServerEvent] = [
            .message(ChatLine(id: "m", from: "a", text: "t", ts: 1), ref: "r"),
            .direct(DirectLine(id: "d", from: "a", to: "b", text: "t", ts: 3), ref: nil),
            .users(["a", "b"], ref: "w"), .pong(ref: nil), .error(.notJoined, ref: "x"),
        ]
        for event in events {
            #expect(ChatV2Codec.encode(event) == ChatV1Codec.encode(event))
        }
    }
}
