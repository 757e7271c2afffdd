import ChatProtocol

/// The answer to a request for `/chat`: upgrade with a protocol version, or
/// refuse with an HTTP status and a `text/plain` reason.
///
/// The same decision is used by the upgrader (to accept) and by the HTTP
/// route (to explain a refusal), so the two can never disagree.
enum HandshakeDecision: Equatable {
    case upgrade(ProtocolVersion)
    case refuse(status: Int, reason: String)

    /// Decides from the request's headers. The Origin check comes first
    /// (403 wins over 400), then subprotocol negotiation.
    static func decide(
        origin: String?,
        host: String?,
        offeredSubprotocols: [String],
        originPolicy: OriginPolicy
    ) -> HandshakeDecision {
        guard originPolicy.accepts(origin: origin, host: host) else {
            return .refuse(status: 403, reason: "origin \(origin ?? "") is not allowed to open /chat\n")
        }
        guard let version = ProtocolVersion.negotiate(offered: offeredSubprotocols) else {
            return .refuse(status: 400, reason: ProtocolVersion.refusalText)
        }
        return .upgrade(version)
    }
}
