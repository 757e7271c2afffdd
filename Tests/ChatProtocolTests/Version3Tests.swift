import ChatProtocol
import Testing

@Suite("chat.v3.json: room names, decoding and encoding")
struct Version3Tests {
    private func decode(_ text: String, _ codec: any ChatCodec.Type = ChatV3Codec.self) -> Result<ClientMessage, ErrorCode> {
        codec.decode(Array(text.utf8)).message
    }

    private func json(_ event: ServerEvent) -> String {
        String(decoding: ChatV3Codec.encode(event), as: UTF8.self)
    }

    @Test("room names: 1-32 of a-z 0-9 - _ ., starting with a letter or digit; never folded")
    func roomNames() {
        for valid in ["lobby", "a", "9", "rust-lang", "c.plus_plus", String(repeating: "z", count: 32)] {
            #expect(RoomName(validating: valid) != nil, "\(valid)")
        }
        for invalid in ["", "Rust", "-a", "_a", ".a", "a b", "é", "a/b", String(repeating: "z", count: 33)] {
            #expect(RoomName(validating: invalid) == nil, "\(invalid)")
        }
    }

    @Test("v3 messages decode with their rooms and page fields")
    func decoding() {
        #expect(decode(#"{"type":"join","room":"rust"}"#) == .success(.join(room: "rust")))
        #expect(decode(#"{"type":"join","room":"rust","since":"m-1"}"#) == .success(.join(room: "rust", since: "m-1")))
        #expect(decode(#"{"type":"part","room":"rust"}"#) == .success(.part(room: "rust")))
        #expect(decode(#"{"type":"say","room":"rust","text":"hi"}"#) == .success(.say(text: "hi", room: "rust")))
        #expect(decode(#"{"type":"rooms"}"#) == .success(.rooms))
        #expect(decode(#"{"type":"who","room":"rust"}"#) == .success(.who(MemberQuery(room: "rust"))))
        #expect(
            decode(#"{"type":"who","room":"rust","prefix":"an","after":"anna","limit":7}"#)
                == .success(.who(MemberQuery(room: "rust", prefix: "an", after: "anna", limit: 7)))
        )
        // A v3 hello resumes nothing: resume is per room, on join.
        #expect(decode(#"{"type":"hello","nick":"a","since":"m-1"}"#) == .success(.hello(nick: "a")))
    }

    @Test("a missing room, a bad since or page field is bad_message", arguments: [
        #"{"type":"say","text":"hi"}"#, #"{"type":"who"}"#, #"{"type":"join"}"#, #"{"type":"part","room":5}"#,
        #"{"type":"join","room":"r","since":""}"#, #"{"type":"who","room":"r","limit":0}"#,
        #"{"type":"who","room":"r","limit":1001}"#, #"{"type":"who","room":"r","limit":"5"}"#,
        #"{"type":"who","room":"r","prefix":"aaaaaaaaaaaaaaaaaaaaaaaaa"}"#, #"{"type":"who","room":"r","after":null}"#,
    ])
    func badMessages(frame: String) {
        #expect(decode(frame) == .failure(.badMessage))
    }

    @Test("v1 and v2 know no join, part or rooms, and ignore a room on say")
    func olderVersions() {
        for codec in [ChatV1Codec.self, ChatV2Codec.self] as [any ChatCodec.Type] {
            #expect(decode(#"{"type":"join","room":"rust"}"#, codec) == .failure(.unknownType))
            #expect(decode(#"{"type":"part","room":"rust"}"#, codec) == .failure(.unknownType))
            #expect(decode(#"{"type":"rooms"}"#, codec) == .failure(.unknownType))
            #expect(decode(#"{"type":"say","room":"rust","text":"hi"}"#, codec) == .success(.say(text: "hi")))
        }
    }

    @Test("v3 events: welcome, room, presence, message, users, parted, room_list")
    func encoding() {
        let line = ChatLine(id: "m-1", from: "bob", text: "hi", ts: 5, room: RoomName(trusted: "rust"))
        #expect(json(.welcome(nick: "Åsa", node: "n2", users: ["x"], history: [line], resumed: false, ref: nil)) == #"{"type":"welcome","nick":"Åsa","node":"n2"}"#)
        let snapshot = RoomSnapshot(room: RoomName(trusted: "rust"), count: 3, users: ["bob", "carl", "Åsa"], large: false, history: [line], resumed: false)
        #expect(json(.room(snapshot, ref: "j1")) == #"{"type":"room","room":"rust","count":3,"users":["bob","carl","Åsa"],"large":false,"history":[{"type":"message","room":"rust","id":"m-1","from":"bob","text":"hi","ts":5}],"resumed":false,"ref":"j1"}"#)
        let changes = PresenceChanges(joined: ["dora"], left: [.init(nick: "eve", reason: .part)])
        #expect(json(.roomPresence(room: RoomName(trusted: "rust"), count: 4, changes: changes, large: nil, users: nil, ts: 9)) == #"{"type":"presence","room":"rust","count":4,"joined":["dora"],"left":[{"nick":"eve","reason":"part"}],"ts":9}"#)
        #expect(json(.message(line, ref: nil)) == #"{"type":"message","room":"rust","id":"m-1","from":"bob","text":"hi","ts":5}"#)
        let page = MemberPage(room: RoomName(trusted: "rust"), count: 3, users: ["bob"], next: "bob")
        #expect(json(.memberPage(page, ref: nil)) == #"{"type":"users","room":"rust","count":3,"users":["bob"],"next":"bob"}"#)
        #expect(json(.parted(room: RoomName(trusted: "rust"), reason: .part, ref: "p")) == #"{"type":"parted","room":"rust","reason":"part","ref":"p"}"#)
        #expect(json(.roomList([RoomCount(room: .lobby, count: 2)], ref: nil)) == #"{"type":"room_list","rooms":[{"room":"lobby","count":2}]}"#)
    }

    @Test("v1 and v2 clients see part and kicked as quit")
    func reasonsBeforeRooms() {
        let v1 = String(decoding: ChatV1Codec.encode(.left(nick: "a", ts: 1, reason: .part)), as: UTF8.self)
        #expect(v1 == #"{"type":"left","nick":"a","ts":1,"reason":"quit"}"#)
        let changes = PresenceChanges(left: [.init(nick: "a", reason: .kicked)])
        let v2 = String(decoding: ChatV2Codec.encode(.presence(changes, ts: 1)), as: UTF8.self)
        #expect(v2 == #"{"type":"presence","joined":[],"left":[{"nick":"a","reason":"quit"}],"ts":1}"#)
    }
}
