/// Decodes client frames and encodes server events for `chat.v2.json`:
/// v1 plus `since` on `hello`, `resumed` on `welcome`, and `presence`
/// batches instead of `joined` and `left`.
public enum ChatV2Codec {
    /// Decodes one text frame; a `since` that is not a string of 1–64
    /// scalars makes the `hello` a `bad_message`.
    public static func decode(_ payload: [UInt8]) -> DecodedFrame {
        ClientFrameDecoding.decode(payload, version: .v2)
    }

    /// Decodes a frame given as a string (tests and tools).
    public static func decode(_ text: String) -> DecodedFrame {
        decode(Array(text.utf8))
    }

    /// Encodes one event as compact JSON, ready to be a text frame's payload.
    public static func encode(_ event: ServerEvent) -> [UInt8] {
        ServerEventEncoding.encode(event, version: .v2)
    }
}
