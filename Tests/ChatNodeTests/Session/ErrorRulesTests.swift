import ChatProtocol
import TestSupport
import Testing

@Suite("Errors and their precedence")
struct ErrorRulesTests {
    @Test("each refused message gets its error code and keeps the connection open", arguments: [
        (nil, "not json", "bad_message"),
        (nil, #"{"type":"dance"}"#, "unknown_type"),
        (nil, #"{"type":"say","text":"hi"}"#, "not_joined"),
        (nil, #"{"type":"whisper","to":"a","text":"hi"}"#, "not_joined"),
        (nil, #"{"type":"who"}"#, "not_joined"),
        (nil, #"{"type":"hello","nick":"bad nick"}"#, "nick_invalid"),
        (nil, #"{"type":"hello","nick":""}"#, "nick_invalid"),
        ("joined", #"{"type":"hello","nick":"again"}"#, "already_joined"),
        ("joined", #"{"type":"say","text":"   "}"#, "text_invalid"),
        ("joined", #"{"type":"say","text":"a\rb"}"#, "text_invalid"),
        ("joined", #"{"type":"whisper","to":"nobody","text":""}"#, "text_invalid"),
        ("joined", #"{"type":"say"}"#, "bad_message"),
        (nil, #"{"type":"say","text":"\ud800"}"#, "bad_message"),
    ] as [(String?, String, String)])
    func errorCodes(joinedAs nick: String?, frame: String, code: String) async throws {
        try await withNode { node in
            let client = nick == nil ? try await node.connect() : try await node.join(nick!).0
            try await client.send(frame)
            let error = try #require(await client.nextMessage())
            #expect(error.string("type") == "error")
            #expect(error.string("code") == code)
            #expect(error.string("message")?.isEmpty == false)
            try await client.send(#"{"type":"ping"}"#)
            #expect(await client.nextMessage()?.string("type") == "pong")
        }
    }

    @Test("precedence: bad_message over unknown_type, not_joined over text_invalid, already_joined over nick_invalid")
    func precedence() async throws {
        try await withNode { node in
            let fresh = try await node.connect()
            try await fresh.send(#"{"type":"dance","ref":5}"#)
            #expect(await fresh.nextMessage()?.string("code") == "bad_message")
            try await fresh.send(#"{"type":"say","text":""}"#)
            #expect(await fresh.nextMessage()?.string("code") == "not_joined")
            let (joined, _) = try await node.join("alice")
            try await joined.send(#"{"type":"hello","nick":"bad nick"}"#)
            #expect(await joined.nextMessage()?.string("code") == "already_joined")
        }
    }

    @Test("ref is echoed on errors only when valid")
    func refOnErrors() async throws {
        try await withNode { node in
            let client = try await node.connect()
            try await client.send(#"{"type":"say","text":"x","ref":"abc"}"#)
            #expect(await client.nextMessage()?.string("ref") == "abc")
            try await client.send(#"{"type":"say","text":"x","ref":""# + String(repeating: "r", count: 65) + #""}"#)
            let error = try #require(await client.nextMessage())
            #expect(error.string("code") == "bad_message")
            #expect(error["ref"] == nil)
        }
    }
}
