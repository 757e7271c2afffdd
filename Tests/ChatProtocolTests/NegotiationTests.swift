import ChatProtocol
import Testing

@Suite("Subprotocol negotiation")
struct NegotiationTests {
    @Test("chat.v1.json is selected when offered alone or among others")
    func selectsV1() {
        #expect(ProtocolVersion.negotiate(offered: ["chat.v1.json"]) == .v1)
        #expect(ProtocolVersion.negotiate(offered: ["chat.v0.xml, chat.v1.json"]) == .v1)
        #expect(ProtocolVersion.negotiate(offered: ["foo", " chat.v1.json "]) == .v1)
    }

    @Test("the newest offered version wins: v2 over v1, in any order")
    func selectsNewest() {
        #expect(ProtocolVersion.negotiate(offered: ["chat.v2.json"]) == .v2)
        #expect(ProtocolVersion.negotiate(offered: ["chat.v1.json, chat.v2.json"]) == .v2)
        #expect(ProtocolVersion.negotiate(offered: ["chat.v2.json", "chat.v1.json"]) == .v2)
    }

    @Test("nothing is selected when the header is absent or names nothing supported")
    func selectsNothing() {
        #expect(ProtocolVersion.negotiate(offered: []) == nil)
        #expect(ProtocolVersion.negotiate(offered: [""]) == nil)
        #expect(ProtocolVersion.negotiate(offered: ["chat.v4.json", "CHAT.V1.JSON"]) == nil)
    }

    @Test("the refusal text lists the supported subprotocols")
    func refusalText() {
        #expect(ProtocolVersion.refusalText.contains("chat.v3.json, chat.v2.json, chat.v1.json"))
    }
}
