import ChatProtocol
import Foundation
import Testing

@Suite("Nick rules")
struct NickTests {
    @Test("letters, marks and digits of any script are valid", arguments: [
        "alice", "Åsa", "Ölträd", "नमस्ते", "ผู้ใช้", "bob_2", "a-b.c", "9lives", "Ω", "李小龙",
    ])
    func validNicks(_ nick: String) {
        #expect(Nick(validating: nick) != nil)
    }

    @Test("spaces, symbols, emoji, format characters and bad first characters are invalid", arguments: [
        "", " ", "al ice", "alice!", "😀", "a😀", "a\u{200B}b", "\u{0301}a", "_alice", "-alice", ".alice",
        "al\tice", "al\nice", "<b>", "a/b", "a@b",
    ])
    func invalidNicks(_ nick: String) {
        #expect(Nick(validating: nick) == nil)
    }

    @Test("24 scalars are allowed, 25 are not")
    func lengthLimit() {
        #expect(Nick(validating: String(repeating: "a", count: 24)) != nil)
        #expect(Nick(validating: String(repeating: "a", count: 25)) == nil)
    }

    @Test("length counts scalars after NFC: 24 decomposed é fit once composed")
    func lengthAfterNFC() throws {
        let decomposed = String(repeating: "e\u{0301}", count: 24)
        #expect(decomposed.unicodeScalars.count == 48)
        let nick = try #require(Nick(validating: decomposed))
        #expect(nick.canonical.unicodeScalars.count == 24)
    }

    @Test("the canonical form is NFC")
    func canonicalIsNFC() throws {
        let nick = try #require(Nick(validating: "A\u{030A}sa"))
        #expect(Array(nick.canonical.unicodeScalars) == Array("\u{00C5}sa".unicodeScalars))
    }

    @Test("Åsa and åsa clash; NFD and NFC spellings clash")
    func caseInsensitiveKey() throws {
        let upper = try #require(Nick(validating: "Åsa"))
        let lower = try #require(Nick(validating: "åsa"))
        let decomposed = try #require(Nick(validating: "A\u{030A}SA"))
        #expect(upper.key == lower.key)
        #expect(upper.key == decomposed.key)
        #expect(upper.canonical != lower.canonical)
    }

    @Test("the key uses full lowercase mapping without final-sigma context")
    func sigma() throws {
        let nick = try #require(Nick(validating: "ΟΔΥΣΣΕΥΣ"))
        #expect(nick.key.value == "οδυσσευσ")
    }

    @Test("a whisper target is looked up by the same key")
    func lookupKey() {
        #expect(NickKey(lookingUp: "A\u{030A}SA") == Nick(validating: "åsa")?.key)
    }

    @Test("user lists sort by key in code-point order, ties by canonical nick")
    func sortOrder() {
        let sorted = ["bob", "Åsa", "alice", "Bob", "Zed", "ärla"].sortedAsUserList()
        #expect(sorted == ["alice", "Bob", "bob", "Zed", "ärla", "Åsa"])
    }

    @Test("an ASCII nick's key is its A-Z lowercased, exactly what normalising gives")
    func asciiKeys() {
        for nick in ["alice", "Alice", "BOB_42", "x.y-z", "0", "ZZZZZZZZZZZZZZZZZZZZZZZZ", "MiXeD.Case-1"] {
            let general = nick.lowercased().precomposedStringWithCanonicalMapping
            #expect(NickKey(lookingUp: nick).value == general)
            #expect(Nick(validating: nick)?.key.value == general)
        }
    }
}
