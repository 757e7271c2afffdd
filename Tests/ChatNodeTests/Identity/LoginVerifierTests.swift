import Foundation
import TestSupport
import Testing

@testable import ChatNode

/// Keys made once for the identity suites (an RSA key takes a moment).
let sharedLoginKeys = Task { try await TestLoginKeys.make() }

@Suite("Login tokens: what the verifier accepts and refuses (§7)")
struct LoginVerifierTests {
    private func verifier(_ keys: String, audience: String? = nil, issuer: String? = nil) async throws -> LoginVerifier {
        try await LoginVerifier.load(keys: keys, audience: audience, issuer: issuer)
    }

    private var now: Double { Date().timeIntervalSince1970 }

    @Test("tokens signed by openssl with each algorithm are accepted by a node holding the matching key")
    func acceptsEachAlgorithm() async throws {
        let keys = try await sharedLoginKeys.value
        let cases: [(String, TestLoginKeys.Signature)] = [
            (keys.hs256, .hs256), (keys.rsaPublicKey, .rs256), (keys.ecPublicKey, .es256), (keys.edPublicKey, .edDSA),
        ]
        for (key, signature) in cases {
            let token = try await keys.token(sub: "user-1", claims: #""nick":"Åsa","rooms":["private.ops"]"#, with: signature)
            let identity = try (try await verifier(key)).verify(token, now: now).get()
            #expect(identity.subject == "user-1")
            #expect(identity.nick == "Åsa")
            #expect(identity.rooms == ["private.ops"])
        }
    }

    @Test("a JWKS file serves its keys by kid, and keys without alg by their type")
    func jwks() async throws {
        let keys = try await sharedLoginKeys.value
        // The JWK of the P-256 public key, written by hand from the key's coordinates.
        let ring = try await LoginKeyRing.load(keys.ecPublicKey)
        let signer = try #require(ring.keys.first)
        #expect(signer.algorithm.name == "ES256")
        let ecJWK = try await jwk(ofPEM: keys.ecPublicKey, keys: keys)
        let path = keys.folder + "/jwks-\(UUID().uuidString).json"
        try Data(#"{"keys":[\#(ecJWK)]}"#.utf8).write(to: URL(fileURLWithPath: path))
        let fromJWKS = try await verifier(path)
        let withKid = try await keys.sign(
            header: #"{"alg":"ES256","kid":"k1"}"#, payload: #"{"sub":"u","exp":\#(Int(now) + 60)}"#, with: .es256
        )
        #expect((try? fromJWKS.verify(withKid, now: now).get())?.subject == "u")
        let rsaSigned = try await keys.token(sub: "u", with: .rs256)
        #expect(fromJWKS.verify(rsaSigned, now: now) == .failure(.badSignature))
    }

    @Test("every way a token can be wrong is refused, each with its reason")
    func refusals() async throws {
        let keys = try await sharedLoginKeys.value
        let hmac = try await verifier(keys.hs256, audience: "chat", issuer: "https://id.example")
        let good = #""aud":"chat","iss":"https://id.example""#
        func check(_ token: String, _ refusal: LoginRefusal, _ note: Comment) {
            #expect(hmac.verify(token, now: now) == .failure(refusal), note)
        }
        let accepted = try await keys.token(sub: "u", claims: good)
        #expect((try? hmac.verify(accepted, now: now).get())?.subject == "u")
        check("", .malformed, "empty")
        check("not.a-token", .malformed, "two parts")
        check("a.b.c", .malformed, "not base64url JSON")
        check(try await keys.token(sub: "u", claims: good, with: .none), .algorithmNotAccepted, "alg none")
        let publicKeyPEM = Array(try Data(contentsOf: URL(fileURLWithPath: keys.rsaPublicKey)))
        let rsa = try await verifier(keys.rsaPublicKey)
        let confused = try await keys.token(sub: "u", with: .hs256WithSecret(publicKeyPEM))
        #expect(rsa.verify(confused, now: now) == .failure(.badSignature), "HS256 signed with the RSA public key")
        // A character in the middle of the signature: the last one may carry only padding bits.
        var tampered = Array(accepted)
        let middle = tampered.count - 20
        tampered[middle] = tampered[middle] == "A" ? "B" : "A"
        check(String(tampered), .badSignature, "signature changed")
        check(try await keys.token(sub: "u", claims: good, with: .hs256WithSecret(Array("another secret of 32 bytes or more".utf8))), .badSignature, "other secret")
        check(try await keys.token(sub: "u", expiresIn: -61, claims: good), .expired, "expired beyond the skew")
        check(try await keys.token(sub: "u", claims: good + #","nbf":\#(Int(now) + 120)"#), .notYetValid, "nbf in the future")
        check(try await keys.token(sub: "u", claims: #""aud":"other","iss":"https://id.example""#), .wrongAudience, "aud")
        check(try await keys.token(sub: "u", claims: #""aud":"chat","iss":"https://evil.example""#), .wrongIssuer, "iss")
        check(try await keys.token(sub: "u", claims: #""iss":"https://id.example""#), .wrongAudience, "aud missing")
        check(try await keys.sign(header: #"{"alg":"HS256"}"#, payload: #"{"exp":\#(Int(now) + 60),\#(good)}"#, with: .hs256), .missingClaim("sub"), "no sub")
        check(try await keys.sign(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"u",\#(good)}"#, with: .hs256), .missingClaim("exp"), "no exp")
        check(try await keys.sign(header: #"{"alg":"HS256"}"#, payload: #"{"sub":"u","exp":"soon",\#(good)}"#, with: .hs256), .missingClaim("exp"), "exp not a number")
        check(try await keys.token(sub: "u", claims: good + #","rooms":"private.a""#), .missingClaim("rooms"), "rooms not a list")
    }

    @Test("up to 60 s of clock skew is tolerated on exp and nbf; aud may be a list")
    func skew() async throws {
        let keys = try await sharedLoginKeys.value
        let hmac = try await verifier(keys.hs256, audience: "chat")
        let justExpired = try await keys.token(sub: "u", expiresIn: -30, claims: #""aud":["web","chat"]"#)
        #expect((try? hmac.verify(justExpired, now: now).get())?.subject == "u")
        let almostValid = try await keys.token(sub: "u", claims: #""aud":"chat","nbf":\#(Int(now) + 30)"#)
        #expect((try? hmac.verify(almostValid, now: now).get())?.subject == "u")
    }

    @Test("--auth-key refuses files that are not keys, private keys and short secrets, in one sentence")
    func keyFileErrors() async throws {
        let keys = try await sharedLoginKeys.value
        let short = keys.folder + "/short-secret"
        try Data("tiny\n".utf8).write(to: URL(fileURLWithPath: short))
        let garbage = keys.folder + "/garbage.json"
        try Data("{\"hello\":1}".utf8).write(to: URL(fileURLWithPath: garbage))
        for (specification, expected) in [
            ("hs256:" + short, "at least 32 bytes"), (keys.rsaPrivateKey, "private key"), (garbage, "neither a PEM public key nor a JWKS"),
            ("/nonexistent/key.pem", "cannot read"),
        ] {
            do {
                _ = try await LoginVerifier.load(keys: specification, audience: nil, issuer: nil)
                Issue.record("\(specification) was accepted")
            } catch {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(!error.message.contains("\n"))
            }
        }
    }

    /// The JWK (kid `k1`, no `alg`) of a P-256 public key: its x and y from openssl's text dump.
    private func jwk(ofPEM path: String, keys: TestLoginKeys) async throws -> String {
        let (status, output) = try await ExternalCommand.run(["openssl", "pkey", "-pubin", "-in", path, "-text", "-noout"])
        try #require(status == 0)
        let hex = output.components(separatedBy: "pub:").last!.components(separatedBy: "ASN1").first!
            .filter { $0.isHexDigit }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        try #require(bytes.count == 65 && bytes[0] == 4)
        let x = TestLoginKeys.base64URL(Array(bytes[1...32]))
        let y = TestLoginKeys.base64URL(Array(bytes[33...64]))
        return #"{"kty":"EC","crv":"P-256","kid":"k1","x":"\#(x)","y":"\#(y)"}"#
    }
}
