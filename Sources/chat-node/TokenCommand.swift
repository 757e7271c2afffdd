import ArgumentParser
import ChatNode

/// `chat-node token`: prints a login token on one line (PROTOCOL.md §7),
/// for development and tests.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-node token",
        abstract: "Print a signed login token on one line (for development and tests)."
    )

    @Option(help: "hs256:PATH (the shared-secret file --auth-key names) or a PEM private key (RSA, P-256, Ed25519).")
    var key: String

    @Option(help: "The user's id: the token's sub.")
    var sub: String

    @Option(help: "The nick this user must use.")
    var nick: String?

    @Option(help: "Comma-separated private rooms this user may join.")
    var rooms: String?

    @Option(help: "Seconds until the token expires.")
    var ttl: Double = 3600

    @Option(help: "The token's aud (for a node started with --auth-audience).")
    var audience: String?

    @Option(help: "The token's iss (for a node started with --auth-issuer).")
    var issuer: String?

    func validate() throws {
        guard ttl.isFinite, ttl > 0 else { throw ValidationError("--ttl must be a number of seconds above 0") }
        guard !sub.isEmpty else { throw ValidationError("--sub must not be empty") }
    }

    /// Signs and returns the token.
    func token() async throws -> String {
        let minter = try await LoginTokenMinter.load(key)
        let roomList = rooms.map { $0.split(separator: ",").map { String($0) } }
        return try await minter.token(subject: sub, nick: nick, rooms: roomList, lifetime: ttl, audience: audience, issuer: issuer)
    }
}
