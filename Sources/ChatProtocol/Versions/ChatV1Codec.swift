/// Decodes client frames and encodes server events for `chat.v1.json`.
public enum ChatV1Codec {
    /// Decodes one text frame, applying the structural rules in the
    /// protocol's precedence: `bad_message`, then `unknown_type`.
    public static func decode(_ payload: [UInt8]) -> DecodedFrame {
        ClientFrameDecoding.decode(payload, version: .v1)
    }

    /// Decodes a frame given as a string (tests and tools).
    public static func decode(_ text: String) -> DecodedFrame {
        decode(Array(text.utf8))
    }

    /// Encodes one event as compact JSON, ready to be a text frame's payload.
    public static func encode(_ event: ServerEvent) -> [UInt8] {
        ServerEventEncoding.encode(event, version: .v1)
    }
}
