import Foundation
import JWTKit

/// The keys that may sign login tokens (`--auth-key`, PROTOCOL.md §7),
/// parsed once at start-up.
///
/// Each key is bound to exactly one algorithm, the one its type implies
/// (an RSA key verifies RS256 only, an HMAC secret HS256 only), and a
/// token is checked only against keys of the algorithm its header names.
/// That is what refuses algorithm confusion: an HS256 token "signed" with
/// an RSA public key finds no HS256 key to check it.
struct LoginKeyRing: Sendable {
    /// One verification key.
    struct Key: Sendable {
        /// The `kid` a token's header may name, when the key has one (JWKS).
        let id: String?
        /// Verifies signatures; its `name` is the JWS `alg` it accepts.
        let algorithm: any JWTAlgorithm
    }

    /// The algorithms a login token may use; `none` is never among them.
    static let acceptedAlgorithms: Set<String> = ["HS256", "RS256", "ES256", "EdDSA"]

    let keys: [Key]

    /// The keys that may have signed a token whose header names `algorithm`
    /// and `keyID`: the key with that id if there is one, else every key of
    /// that algorithm.
    func candidates(algorithm: String, keyID: String?) -> [Key] {
        let ofAlgorithm = keys.filter { $0.algorithm.name == algorithm }
        if let keyID, let named = ofAlgorithm.first(where: { $0.id == keyID }) {
            return [named]
        }
        return ofAlgorithm
    }

    /// Reads `--auth-key`'s value: `hs256:PATH` (a file holding a shared
    /// secret), or the path of a PEM public key (RSA, P-256, Ed25519) or of
    /// a JWKS JSON file.
    static func load(_ specification: String) async throws(LoginKeyError) -> LoginKeyRing {
        if specification.hasPrefix("hs256:") {
            let path = String(specification.dropFirst("hs256:".count))
            let secret = try read(path)
            let trimmed = secret.trimmingTrailingNewlines()
            guard trimmed.count >= 32 else {
                throw LoginKeyError("--auth-key: the shared secret in \"\(path)\" must be at least 32 bytes (got \(trimmed.count))")
            }
            let collection = JWTKeyCollection()
            await collection.add(hmac: HMACKey(from: trimmed), digestAlgorithm: .sha256)
            return LoginKeyRing(keys: [Key(id: nil, algorithm: try await defaultAlgorithm(of: collection, path: path))])
        }
        let contents = try read(specification)
        guard let text = String(bytes: contents, encoding: .utf8) else {
            throw LoginKeyError("--auth-key: \"\(specification)\" is not a text file (a PEM public key or a JWKS JSON file)")
        }
        if text.contains("-----BEGIN") {
            return LoginKeyRing(keys: [Key(id: nil, algorithm: try await publicKeyAlgorithm(pem: text, path: specification))])
        }
        return LoginKeyRing(keys: try await jwksKeys(json: text, path: specification))
    }

    private static func read(_ path: String) throws(LoginKeyError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoginKeyError("--auth-key: cannot read \"\(path)\"")
        }
        return Array(data)
    }

    private static func defaultAlgorithm(of collection: JWTKeyCollection, path: String) async throws(LoginKeyError) -> any JWTAlgorithm {
        do {
            return try await collection.getKey()
        } catch {
            throw LoginKeyError("--auth-key: the key in \"\(path)\" cannot be used")
        }
    }

    /// A PEM public key: RSA (RS256), P-256 (ES256) or Ed25519 (EdDSA).
    private static func publicKeyAlgorithm(pem: String, path: String) async throws(LoginKeyError) -> any JWTAlgorithm {
        if pem.contains("PRIVATE KEY") {
            throw LoginKeyError("--auth-key: \"\(path)\" holds a private key; give the node the public key only")
        }
        let collection = JWTKeyCollection()
        if let key = try? Insecure.RSA.PublicKey(pem: pem) {
            await collection.add(rsa: key, digestAlgorithm: .sha256)
        } else if let key = try? ES256PublicKey(pem: pem) {
            await collection.add(ecdsa: key)
        } else if let key = try? EdDSA.PublicKey(pem: pem) {
            await collection.add(eddsa: key)
        } else {
            throw LoginKeyError("--auth-key: \"\(path)\" is not a PEM public key of a supported type (RSA, EC P-256, Ed25519)")
        }
        return try await defaultAlgorithm(of: collection, path: path)
    }

    /// A JWKS file: every key in it, each with its `kid` and the algorithm
    /// its `alg` names (or its type implies).
    private static func jwksKeys(json: String, path: String) async throws(LoginKeyError) -> [Key] {
        let jwks: JWKS
        do {
            jwks = try JSONDecoder().decode(JWKS.self, from: Data(json.utf8))
        } catch {
            throw LoginKeyError("--auth-key: \"\(path)\" is neither a PEM public key nor a JWKS JSON file")
        }
        guard !jwks.keys.isEmpty else { throw LoginKeyError("--auth-key: the JWKS in \"\(path)\" has no keys") }
        var keys: [Key] = []
        for (index, var jwk) in jwks.keys.enumerated() {
            let id = jwk.keyIdentifier?.string
            // The collection needs an id to store a JWK under; tokens without `kid` try every key of their algorithm.
            let storedID = id ?? "key-\(index)"
            jwk.keyIdentifier = JWKIdentifier(string: storedID)
            guard let algorithm = jwk.algorithm?.rawValue ?? implicitAlgorithm(of: jwk), acceptedAlgorithms.contains(algorithm) else {
                throw LoginKeyError("--auth-key: key \(index + 1) of the JWKS in \"\(path)\" is not for HS256, RS256, ES256 or EdDSA")
            }
            do {
                let collection = JWTKeyCollection()
                try await collection.add(jwk: jwk)
                keys.append(Key(id: id, algorithm: try await collection.getKey(for: JWKIdentifier(string: storedID), alg: algorithm)))
            } catch {
                throw LoginKeyError("--auth-key: key \(index + 1) of the JWKS in \"\(path)\" cannot be used")
            }
        }
        return keys
    }

    /// The algorithm a JWK without `alg` is for, from its key type and curve.
    private static func implicitAlgorithm(of jwk: JWK) -> String? {
        switch (jwk.keyType, jwk.curve?.rawValue) {
        case (.rsa, _): "RS256"
        case (.ecdsa, "P-256"): "ES256"
        case (.octetKeyPair, "Ed25519"): "EdDSA"
        default: nil
        }
    }
}

/// `--auth-key` names a file that cannot serve as login keys; `message` says why, in one sentence.
public struct LoginKeyError: Error, CustomStringConvertible {
    /// One sentence for the operator.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension [UInt8] {
    /// Without the newlines a text editor leaves at the end of a secret file.
    func trimmingTrailingNewlines() -> [UInt8] {
        var end = endIndex
        while end > startIndex, self[end - 1] == UInt8(ascii: "\n") || self[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        return Array(self[..<end])
    }
}
