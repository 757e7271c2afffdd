/// A version of the chat protocol, named by its WebSocket subprotocol.
///
/// A new version is a new case with its own codec beside `ChatV1Codec`;
/// existing versions are never edited to make room for it.
public enum ProtocolVersion: String, Sendable, CaseIterable, Comparable {
    /// `chat.v1.json`: JSON text frames, PROTOCOL.md v1.
    case v1 = "chat.v1.json"
    /// `chat.v2.json`: v1 with presence in batches and resume (PROTOCOL.md §5).
    case v2 = "chat.v2.json"
    /// `chat.v3.json`: v2 per room, with `join`, `part` and `rooms` (PROTOCOL.md §6).
    case v3 = "chat.v3.json"

    /// The subprotocol token a client offers and the server echoes.
    public var subprotocol: String { rawValue }

    /// Every version this build serves, newest first.
    public static let supported: [ProtocolVersion] = allCases.sorted(by: >)

    private var number: Int {
        switch self {
        case .v1: 1
        case .v2: 2
        case .v3: 3
        }
    }

    public static func < (lhs: ProtocolVersion, rhs: ProtocolVersion) -> Bool {
        lhs.number < rhs.number
    }

    /// Picks the newest supported version among the `Sec-WebSocket-Protocol`
    /// header values a client sent, or `nil` when none is supported.
    ///
    /// Each header value may list several comma-separated tokens.
    public static func negotiate(offered headerValues: [String]) -> ProtocolVersion? {
        // Runs once per handshake: compare the bytes in place rather than build a set of new strings.
        var chosen: ProtocolVersion?
        for value in headerValues {
            for token in value.utf8.split(separator: UInt8(ascii: ",")) {
                var start = token.startIndex
                var end = token.endIndex
                while start < end, isBlank(token[start]) { start = token.index(after: start) }
                while start < end, isBlank(token[token.index(before: end)]) { end = token.index(before: end) }
                let name = token[start..<end]
                for version in supported where version.subprotocol.utf8.elementsEqual(name) {
                    chosen = max(chosen ?? version, version)
                }
            }
        }
        return chosen
    }

    /// The sentence a refused handshake's `text/plain` body carries.
    public static var refusalText: String {
        "unsupported or missing WebSocket subprotocol; supported subprotocols: "
            + supported.map(\.subprotocol).joined(separator: ", ") + "\n"
    }
}

private func isBlank(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
}
