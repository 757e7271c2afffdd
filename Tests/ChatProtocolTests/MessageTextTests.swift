import ChatProtocol
import Testing

@Suite("Text rules")
struct MessageTextTests {
    @Test("ordinary text, newlines, tabs, emoji with ZWJ and markup-looking text are valid", arguments: [
        "hi", "line one\nline two", "a\tb", "👩‍👩‍👧", "<script>alert(1)</script>", " padded ", "é",
    ])
    func valid(_ text: String) {
        #expect(MessageText.isValid(text))
    }

    @Test("empty, blank and control characters other than newline and tab are invalid", arguments: [
        "", " ", "\n\t ", "\u{3000}", "\u{00A0}", "a\rb", "a\u{0000}b", "\u{0007}", "a\u{007F}", "a\u{0085}b",
    ])
    func invalid(_ text: String) {
        #expect(!MessageText.isValid(text))
    }

    @Test("2000 scalars are allowed, 2001 are not, counting astral characters once")
    func lengthLimit() {
        #expect(MessageText.isValid(String(repeating: "😀", count: 2000)))
        #expect(!MessageText.isValid(String(repeating: "😀", count: 2001)))
        #expect(MessageText.isValid(String(repeating: "a", count: 2000)))
        #expect(!MessageText.isValid(String(repeating: "a", count: 2001)))
    }

    @Test("length counts scalars, not graphemes: e + U+0301 is two")
    func scalarsNotGraphemes() {
        #expect(MessageText.isValid(String(repeating: "e\u{0301}", count: 1000)))
        #expect(!MessageText.isValid(String(repeating: "e\u{0301}", count: 1000) + "x"))
    }
}

@Suite("Ref rules")
struct RefTests {
    @Test("up to 64 scalars")
    func length() {
        #expect(Ref.isValid(""))
        #expect(Ref.isValid(String(repeating: "😀", count: 64)))
        #expect(!Ref.isValid(String(repeating: "😀", count: 65)))
    }
}
