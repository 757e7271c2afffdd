import Foundation

/// Login-token keys made with `openssl` for one test, and tokens signed
/// by `openssl` rather than by the node's own library: a token the node
/// accepts was made by another implementation.
public struct TestLoginKeys: Sendable {
    /// How `sign` signs a token.
    public enum Signature: Sendable {
        case hs256
        case rs256
        case es256
        case edDSA
        /// HS256 with these bytes as the secret (an algorithm-confusion attempt, say).
        case hs256WithSecret([UInt8])
        /// No signature at all, as `alg: none` has.
        case none
    }

    public let folder: String
    /// The shared secret's file (`hs256:` + this path for `--auth-key`).
    public let secretFile: String
    public let rsaPrivateKey: String
    public let rsaPublicKey: String
    public let ecPrivateKey: String
    public let ecPublicKey: String
    public let edPrivateKey: String
    public let edPublicKey: String

    /// `--auth-key`'s value for the shared secret.
    public var hs256: String { "hs256:" + secretFile }

    /// Makes a fresh secret and an RSA, a P-256 and an Ed25519 key pair.
    public static func make() async throws -> TestLoginKeys {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("chat-login-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func path(_ name: String) -> String { folder + "/" + name }
        let secret = (0..<48).map { _ in UInt8.random(in: 0x21...0x7e) }
        try Data(secret + [0x0a]).write(to: URL(fileURLWithPath: path("secret")))
        try await TestCertificates.openssl(["genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path("rsa.pem")])
        try await TestCertificates.openssl(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path("ec.pem")])
        try await TestCertificates.openssl(["genpkey", "-algorithm", "ed25519", "-out", path("ed.pem")])
        for name in ["rsa", "ec", "ed"] {
            try await TestCertificates.openssl(["pkey", "-in", path("\(name).pem"), "-pubout", "-out", path("\(name).pub")])
        }
        return TestLoginKeys(
            folder: folder, secretFile: path("secret"),
            rsaPrivateKey: path("rsa.pem"), rsaPublicKey: path("rsa.pub"),
            ecPrivateKey: path("ec.pem"), ecPublicKey: path("ec.pub"),
            edPrivateKey: path("ed.pem"), edPublicKey: path("ed.pub")
        )
    }

    /// A token with this header and payload (JSON texts), signed by `openssl`.
    public func sign(header: String, payload: String, with signature: Signature) async throws -> String {
        let input = Self.base64URL(Array(header.utf8)) + "." + Self.base64URL(Array(payload.utf8))
        let name = UUID().uuidString
        let inputFile = folder + "/\(name).in"
        let signatureFile = folder + "/\(name).sig"
        defer {
            try? FileManager.default.removeItem(atPath: inputFile)
            try? FileManager.default.removeItem(atPath: signatureFile)
        }
        try Data(input.utf8).write(to: URL(fileURLWithPath: inputFile))
        let dgst = ["dgst", "-sha256", "-binary", "-out", signatureFile]
        switch signature {
        case .none:
            return input + "."
        case .hs256:
            let secret = try Data(contentsOf: URL(fileURLWithPath: secretFile)).filter { $0 != 0x0a }
            try await TestCertificates.openssl(dgst + ["-mac", "HMAC", "-macopt", "hexkey:" + Self.hex(Array(secret)), inputFile])
        case .hs256WithSecret(let secret):
            try await TestCertificates.openssl(dgst + ["-mac", "HMAC", "-macopt", "hexkey:" + Self.hex(secret), inputFile])
        case .rs256:
            try await TestCertificates.openssl(dgst + ["-sign", rsaPrivateKey, inputFile])
        case .es256:
            try await TestCertificates.openssl(dgst + ["-sign", ecPrivateKey, inputFile])
        case .edDSA:
            try await TestCertificates.openssl(["pkeyutl", "-sign", "-rawin", "-inkey", edPrivateKey, "-in", inputFile, "-out", signatureFile])
        }
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: signatureFile)))
        if case .es256 = signature { bytes = try Self.rawECDSASignature(fromDER: bytes) }
        return input + "." + Self.base64URL(bytes)
    }

    /// A token for `sub` signed with `signature`, expiring `expiresIn` seconds from now, with extra claims (JSON members).
    public func token(sub: String, expiresIn: Double = 3600, claims: String = "", with signature: Signature = .hs256) async throws -> String {
        let algorithm: String
        switch signature {
        case .hs256, .hs256WithSecret: algorithm = "HS256"
        case .rs256: algorithm = "RS256"
        case .es256: algorithm = "ES256"
        case .edDSA: algorithm = "EdDSA"
        case .none: algorithm = "none"
        }
        let exp = Int(Date().timeIntervalSince1970 + expiresIn)
        let extra = claims.isEmpty ? "" : "," + claims
        return try await sign(header: #"{"alg":"\#(algorithm)","typ":"JWT"}"#, payload: #"{"sub":"\#(sub)","exp":\#(exp)\#(extra)}"#, with: signature)
    }

    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// JWS's ES256 signature is r and s as 32 bytes each; openssl writes
    /// DER: SEQUENCE { INTEGER r, INTEGER s }.
    private static func rawECDSASignature(fromDER der: [UInt8]) throws -> [UInt8] {
        var index = 2  // SEQUENCE tag and (short) length
        func integer() throws -> [UInt8] {
            guard index + 2 <= der.count, der[index] == 0x02 else { throw TestSupportError("not a DER ECDSA signature") }
            let length = Int(der[index + 1])
            var value = Array(der[(index + 2)..<(index + 2 + length)])
            index += 2 + length
            while value.count > 32, value.first == 0 { value.removeFirst() }
            return [UInt8](repeating: 0, count: 32 - value.count) + value
        }
        return try integer() + integer()
    }
}
