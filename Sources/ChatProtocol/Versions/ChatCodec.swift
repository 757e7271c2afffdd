/// The codec of one protocol version: client frames in, server events out.
///
/// Sessions hold the codec their handshake selected, so versions can be
/// served side by side.
public protocol ChatCodec {
    /// Decodes one text frame into a message or the error that refuses it.
    static func decode(_ payload: [UInt8]) -> DecodedFrame
    /// Encodes one event as a text frame's payload.
    static func encode(_ event: ServerEvent) -> [UInt8]
}

extension ChatV1Codec: ChatCodec {}
extension ChatV2Codec: ChatCodec {}
extension ChatV3Codec: ChatCodec {}

extension ProtocolVersion {
    /// The codec that speaks this version.
    public var codec: any ChatCodec.Type {
        switch self {
        case .v1: ChatV1Codec.self
        case .v2: ChatV2Codec.self
        case .v3: ChatV3Codec.self
        }
    }
}
