import Foundation
import JWTKit

/// Signs login tokens for development and tests (`chat-node token`,
/// PROTOCOL.md §7); real deployments sign them in their own backend.
public struct LoginTokenMinter: Sendable {
    private let keys: JWTKeyCollection

    /// Loads the signing key: `hs256:PATH` (the shared-secret file
    /// `--auth-key` names too) or the path of a PEM private key (RSA →
    /// RS256, P-256 → ES256, Ed25519 → EdDSA).
    public static func load(_ specification: String) async throws(LoginKeyError) -> LoginTokenMinter {
        let keys = JWTKeyCollection()
        if specification.hasPrefix("hs256:") {
            let path = String(specification.dropFirst("hs256:".count))
            guard let data = FileManager.default.contents(atPath: path) else { throw LoginKeyError("--key: cannot read \"\(path)\"") }
            await keys.add(hmac: HMACKey(from: Array(data).trimmingTrailingNewlines()), digestAlgorithm: .sha256)
            return LoginTokenMinter(keys: keys)
        }
        guard let data = FileManager.default.contents(atPath: specification), let pem = String(data: data, encoding: .utf8) else {
            throw LoginKeyError("--key: cannot read \"\(specification)\"")
        }
        if let key = try? Insecure.RSA.PrivateKey(pem: pem) {
            await keys.add(rsa: key, digestAlgorithm: .sha256)
        } else if let key = try? ES256PrivateKey(pem: pem) {
            await keys.add(ecdsa: key)
        } else if let key = try? EdDSA.PrivateKey(pem: pem) {
            await keys.add(eddsa: key)
        } else {
            throw LoginKeyError("--key: \"\(specification)\" is not hs256:PATH or a PEM private key of a supported type (RSA, EC P-256, Ed25519)")
        }
        return LoginTokenMinter(keys: keys)
    }

    /// A signed token for `subject`, valid for `lifetime` seconds from now.
    public func token(
        subject: String, nick: String? = nil, rooms: [String]? = nil, lifetime: Double = 3600,
        audience: String? = nil, issuer: String? = nil
    ) async throws(LoginKeyError) -> String {
        let claims = LoginClaims(
            sub: SubjectClaim(value: subject),
            // Whole seconds: some verifiers refuse a fractional NumericDate.
            exp: ExpirationClaim(value: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + lifetime).rounded(.down))),
            aud: audience.map { AudienceClaim(value: [$0]) },
            iss: issuer.map { IssuerClaim(value: $0) },
            nick: nick,
            rooms: rooms
        )
        do {
            return try await keys.sign(claims)
        } catch let error as JWTError {
            throw LoginKeyError("could not sign the token: \(error.reason ?? "the key refused to sign")")
        } catch {
            throw LoginKeyError("could not sign the token with this key")
        }
    }
}

/// The claims of a login token as `chat-node token` writes them.
private struct LoginClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var aud: AudienceClaim?
    var iss: IssuerClaim?
    var nick: String?
    var rooms: [String]?

    // The node checks claims itself (`LoginVerifier`); minting checks nothing.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
