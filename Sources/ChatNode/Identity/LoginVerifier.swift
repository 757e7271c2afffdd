import ChatProtocol
import Foundation
import JWTKit

/// Checks login tokens (PROTOCOL.md §7): the signature against the key
/// ring, then `exp`, `nbf`, `aud` and `iss`, then the claims the chat uses.
///
/// It is synchronous and pure given `now`, so a session verifies its token
/// on its own event loop in one step, once per `hello` or `refresh`. One
/// instance per node, which every session refers to.
public final class LoginVerifier: Sendable {
    /// How far a token's `exp` and `nbf` may be off the node's clock.
    static let clockSkew: Double = 60
    /// Longer tokens are refused unread.
    static let maximumTokenBytes = 8192

    let keys: LoginKeyRing
    /// When set, a token's `aud` must be (or contain) it.
    let audience: String?
    /// When set, a token's `iss` must be it.
    let issuer: String?

    /// Loads the keys `--auth-key` names; `audience` and `issuer` are
    /// `--auth-audience` and `--auth-issuer`.
    public static func load(keys specification: String, audience: String?, issuer: String?) async throws(LoginKeyError) -> LoginVerifier {
        LoginVerifier(keys: try await LoginKeyRing.load(specification), audience: audience, issuer: issuer)
    }

    init(keys: LoginKeyRing, audience: String?, issuer: String?) {
        self.keys = keys
        self.audience = audience
        self.issuer = issuer
    }

    /// The identity `token` proves at `now` (seconds since the Unix epoch),
    /// or why it proves none.
    func verify(_ token: String, now: Double) -> Result<UserIdentity, LoginRefusal> {
        guard token.utf8.count <= Self.maximumTokenBytes else { return .failure(.malformed) }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3,
            let header = Base64URL.decode(parts[0]).flatMap(Self.object),
            let payload = Base64URL.decode(parts[1]).flatMap(Self.object),
            let signature = Base64URL.decode(parts[2])
        else { return .failure(.malformed) }

        guard let algorithm = header["alg"]?.stringValue, LoginKeyRing.acceptedAlgorithms.contains(algorithm), header["crit"] == nil else {
            return .failure(.algorithmNotAccepted)
        }
        let signingInput = Array(token.utf8.prefix(parts[0].count + 1 + parts[1].count))
        let signed = keys.candidates(algorithm: algorithm, keyID: header["kid"]?.stringValue).contains { key in
            (try? key.algorithm.verify(signature, signs: signingInput)) == true
        }
        guard signed else { return .failure(.badSignature) }
        return claims(payload, now: now)
    }

    /// The chat's claims, once the signature holds.
    private func claims(_ payload: [String: JSONValue], now: Double) -> Result<UserIdentity, LoginRefusal> {
        guard let subject = payload["sub"]?.stringValue, !subject.isEmpty, subject.utf8.count <= 256 else {
            return .failure(.missingClaim("sub"))
        }
        guard let expiry = Self.seconds(payload["exp"]) else { return .failure(.missingClaim("exp")) }
        guard now <= expiry + Self.clockSkew else { return .failure(.expired) }
        if let notBeforeValue = payload["nbf"] {
            guard let notBefore = Self.seconds(notBeforeValue) else { return .failure(.missingClaim("nbf")) }
            guard now + Self.clockSkew >= notBefore else { return .failure(.notYetValid) }
        }
        if let audience {
            let audiences: [String] =
                switch payload["aud"] {
                case .string(let one): [one]
                case .array(let many): many.compactMap(\.stringValue)
                default: []
                }
            guard audiences.contains(audience) else { return .failure(.wrongAudience) }
        }
        if let issuer, payload["iss"]?.stringValue != issuer {
            return .failure(.wrongIssuer)
        }
        var nick: String?
        if let value = payload["nick"] {
            guard let text = value.stringValue else { return .failure(.missingClaim("nick")) }
            nick = text
        }
        var rooms: Set<String> = []
        if let value = payload["rooms"] {
            guard case .array(let names) = value, names.allSatisfy({ $0.stringValue != nil }) else {
                return .failure(.missingClaim("rooms"))
            }
            rooms = Set(names.compactMap(\.stringValue))
        }
        return .success(UserIdentity(subject: subject, nick: nick, rooms: rooms, expiresAt: expiry))
    }

    private static func object(_ bytes: [UInt8]) -> [String: JSONValue]? {
        guard case .object(let object) = try? JSONParser.parse(bytes) else { return nil }
        return object
    }

    /// A NumericDate: a JSON number of seconds.
    private static func seconds(_ value: JSONValue?) -> Double? {
        guard case .number(let text) = value, let seconds = Double(text), seconds.isFinite else { return nil }
        return seconds
    }
}

/// Why a login token was not accepted; `message` is the sentence the client gets with `unauthorized`.
enum LoginRefusal: Error, Equatable {
    case missing
    case malformed
    case algorithmNotAccepted
    case badSignature
    case expired
    case notYetValid
    case wrongAudience
    case wrongIssuer
    case missingClaim(String)
    /// The token binds its user to another nick than the `hello` names.
    case otherNick
    /// A `refresh` token is for another `sub` than the connection's.
    case otherUser

    var message: String {
        switch self {
        case .missing: "a login token is required: send hello with a token"
        case .malformed: "the login token is not a well-formed JWT"
        case .algorithmNotAccepted: "the login token's algorithm is not accepted"
        case .badSignature: "the login token's signature does not match any of this server's keys"
        case .expired: "the login token has expired"
        case .notYetValid: "the login token is not valid yet"
        case .wrongAudience: "the login token is meant for another audience"
        case .wrongIssuer: "the login token comes from another issuer"
        case .missingClaim(let name): "the login token's \(name) claim is missing or invalid"
        case .otherNick: "the login token is for another nick"
        case .otherUser: "the new login token is for another user"
        }
    }
}

/// Base64url without padding (RFC 7515), as JWTs use it.
enum Base64URL {
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.count + 3)
        for byte in text {
            switch byte {
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "/"))
            case UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return nil
            default: standard.append(byte)
            }
        }
        while standard.count % 4 != 0 { standard.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(standard)).map(Array.init)
    }
}
