import ChatProtocol
import Testing

@Suite("Decoding client frames (chat.v1.json)")
struct DecodingTests {
    @Test("each message type decodes", arguments: [
        (#"{"type":"hello","nick":"alice"}"#, ClientMessage.hello(nick: "alice")),
        (#"{"type":"say","text":"hi"}"#, .say(text: "hi")),
        (#"{"type":"whisper","to":"bob","text":"psst"}"#, .whisper(to: "bob", text: "psst")),
        (#"{"type":"who"}"#, .who()),
        (#"{"type":"ping"}"#, .ping),
    ])
    func decodes(_ frame: String, _ expected: ClientMessage) {
        #expect(ChatV1Codec.decode(frame) == DecodedFrame(ref: nil, message: .success(expected)))
    }

    @Test("unknown fields are ignored")
    func unknownFields() {
        let frame = #"{"type":"say","text":"hi","color":"red","extra":{"a":[1,2,null,true]}}"#
        #expect(ChatV1Codec.decode(frame).message == .success(.say(text: "hi")))
    }

    @Test("a valid ref is kept")
    func ref() {
        #expect(ChatV1Codec.decode(#"{"type":"ping","ref":"r1"}"#) == DecodedFrame(ref: "r1", message: .success(.ping)))
    }

    @Test("malformed frames are bad_message", arguments: [
        "", "not json", "[]", "\"hello\"", "42", "null", "{", #"{"type":"say","text":"hi"} x"#,
        #"{"nick":"alice"}"#, #"{"type":5}"#, #"{"type":null}"#,
        #"{"type":"hello"}"#, #"{"type":"hello","nick":5}"#, #"{"type":"say"}"#, #"{"type":"say","text":["hi"]}"#,
        #"{"type":"whisper","text":"hi"}"#, #"{"type":"whisper","to":"bob"}"#, #"{"type":"whisper","to":1,"text":"x"}"#,
        #"{"type":"ping","ref":5}"#, #"{"type":"ping","ref":null}"#,
        #"{"type":"say","text":"\ud800"}"#, #"{"type":"say","text":"\udc00x"}"#, #"{"type":"say","text":"\ud800\u0041"}"#,
        #"{'type':'ping'}"#, #"{"type":"ping",}"#, "{\"type\":\"say\",\"text\":\"a\u{0001}b\"}",
        #"{"type":"ping","n":01}"#, #"{"type":"ping","n":1.}"#, #"{"type":"ping","n":tru}"#,
    ])
    func badMessage(_ frame: String) {
        #expect(ChatV1Codec.decode(frame).message == .failure(.badMessage))
    }

    @Test("a ref longer than 64 scalars is bad_message and is not echoed")
    func longRef() {
        let frame = #"{"type":"ping","ref":""# + String(repeating: "x", count: 65) + #""}"#
        #expect(ChatV1Codec.decode(frame) == DecodedFrame(ref: nil, message: .failure(.badMessage)))
    }

    @Test("an unknown type is unknown_type and keeps the ref")
    func unknownType() {
        #expect(ChatV1Codec.decode(#"{"type":"dance","ref":"r"}"#) == DecodedFrame(ref: "r", message: .failure(.unknownType)))
    }

    @Test("bad_message wins over unknown_type")
    func precedence() {
        #expect(ChatV1Codec.decode(#"{"type":"dance","ref":7}"#).message == .failure(.badMessage))
    }

    @Test("a missing field keeps the valid ref on the error")
    func missingFieldKeepsRef() {
        #expect(ChatV1Codec.decode(#"{"type":"say","ref":"r9"}"#) == DecodedFrame(ref: "r9", message: .failure(.badMessage)))
    }

    @Test("escaped surrogate pairs decode to one astral scalar")
    func surrogatePair() {
        #expect(ChatV1Codec.decode(#"{"type":"say","text":"\ud83d\ude00"}"#).message == .success(.say(text: "😀")))
    }

    @Test("escapes decode exactly")
    func escapes() {
        let frame = #"{"type":"say","text":"a\"b\\c\/d\n\t\u00e9"}"#
        #expect(ChatV1Codec.decode(frame).message == .success(.say(text: "a\"b\\c/d\n\té")))
    }

    @Test("a string holding no escape decodes as it is; an unescaped control character is refused")
    func plainStrings() {
        #expect(ChatV1Codec.decode(#"{"type":"say","text":"plain Åsa 👩‍👩‍👧"}"#).message == .success(.say(text: "plain Åsa 👩‍👩‍👧")))
        #expect(ChatV1Codec.decode("{\"type\":\"say\",\"text\":\"a\u{01}b\"}").message == .failure(.badMessage))
        #expect(ChatV1Codec.decode(#"{"type":"say","text":"unterminated}"#).message == .failure(.badMessage))
    }

    @Test("nesting beyond the depth limit is refused, not a crash")
    func deepNesting() {
        let frame = #"{"type":"ping","x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(ChatV1Codec.decode(frame).message == .failure(.badMessage))
    }
}

@Suite("Decoding client frames (chat.v2.json)")
struct V2DecodingTests {
    @Test("hello may carry since, the id of the last message seen")
    func since() {
        #expect(ChatV2Codec.decode(#"{"type":"hello","nick":"Åsa","since":"m-3f9a-1041","ref":"h1"}"#)
            == DecodedFrame(ref: "h1", message: .success(.hello(nick: "Åsa", since: "m-3f9a-1041"))))
        #expect(ChatV2Codec.decode(#"{"type":"hello","nick":"a"}"#) == DecodedFrame(ref: nil, message: .success(.hello(nick: "a"))))
        let longest = String(repeating: "é", count: 64)
        #expect(ChatV2Codec.decode(#"{"type":"hello","nick":"a","since":"\#(longest)"}"#).message == .success(.hello(nick: "a", since: longest)))
    }

    @Test("since that is not a string of 1-64 characters is bad_message", arguments: [
        #""since":"""#, #""since":1041"#, #""since":null"#, #""since":["m"]"#,
        "\"since\":\"" + String(repeating: "x", count: 65) + "\"",
    ])
    func invalidSince(_ member: String) {
        #expect(ChatV2Codec.decode(#"{"type":"hello","nick":"a","ref":"r",\#(member)}"#) == DecodedFrame(ref: "r", message: .failure(.badMessage)))
    }

    @Test("v1 ignores since like any unknown field")
    func v1IgnoresSince() {
        #expect(ChatV1Codec.decode(#"{"type":"hello","nick":"a","since":5}"#).message == .success(.hello(nick: "a")))
    }
}
