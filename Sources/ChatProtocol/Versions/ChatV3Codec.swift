/// Decodes client frames and encodes server events for `chat.v3.json`:
/// v2 per room, with `join`, `part`, `rooms`, a room on `say` and `who`,
/// and the `room`, `parted` and `room_list` events (PROTOCOL.md §6).
public enum ChatV3Codec {
    /// Decodes one text frame; a missing or non-string `room`, or a `who`
    /// page field out of its rules, makes the message a `bad_message`.
    public static func decode(_ payload: [UInt8]) -> DecodedFrame {
        ClientFrameDecoding.decode(payload, version: .v3)
    }

    /// Decodes a frame given as a string (tests and tools).
    public static func decode(_ text: String) -> DecodedFrame {
        decode(Array(text.utf8))
    }

    /// Encodes one event as compact JSON, ready to be a text frame's payload.
    public static func encode(_ event: ServerEvent) -> [UInt8] {
        ServerEventEncoding.encode(event, version: .v3)
    }
}
