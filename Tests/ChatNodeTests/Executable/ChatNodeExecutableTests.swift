import ChatProtocol
import Foundation
import TestSupport
import Testing

@testable import ChatNode

@Suite("The chat-node executable")
struct ChatNodeExecutableTests {
    @Test("--help and --version print to standard output and exit 0")
    func helpAndVersion() async throws {
        let help = try await NodeProcess(arguments: ["--help"]).waitForExit()
        #expect(help.status == 0)
        #expect(help.stdout.contains("--ping-interval"))
        #expect(help.stdout.contains("CHAT_REDIS"))
        let version = try await NodeProcess(arguments: ["--version"]).waitForExit()
        #expect(version.status == 0)
        let printed = version.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(printed.split(separator: " ").first?.split(separator: ".").count == 3, "\(printed)")
        // The test script records the commit before building; the binary names it.
        let commitFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Sources/ChatNode/BuildInfo/commit").standardizedFileURL
        if let commit = try? String(contentsOf: commitFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) {
            #expect(printed == "0.2.0 (commit \(commit))")
        }
    }

    @Test("bad flags give exactly one line on standard error and a non-zero exit", arguments: [
        ["--bogus"], ["--port", "x"], ["--port"], ["--ping-interval", "0"], ["--rate", "-1"], ["--burst", "0"],
        ["--cluster", "no spaces"], ["--redis", "localhost:6379"], ["extra-argument"], ["--log-format", "xml"],
        ["--presence-interval", "0"], ["--presence-interval", "100000"], ["--compression", "maybe"], ["--redis-ca", "/no/such/ca.pem"],
        ["--auth-key", "/no/such/key.pem"], ["--auth-key", "hs256:/no/such/secret"], ["--auth-audience", "chat"],
        ["--api-key-file", "/no/such/api-key"], ["token", "--sub", "x"], ["token", "--key", "/no/such/key.pem", "--sub", "x"],
    ])
    func badFlags(_ arguments: [String]) async throws {
        let outcome = try await NodeProcess(arguments: arguments).waitForExit()
        #expect(outcome.status != 0)
        #expect(outcome.stdout.isEmpty)
        #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
        #expect(!outcome.stderr.contains("USAGE"))
    }

    @Test("bad environment values are refused the same way")
    func badEnvironment() async throws {
        let outcome = try await NodeProcess(arguments: [], environment: ["CHAT_PING_INTERVAL": "-1"]).waitForExit()
        #expect(outcome.status != 0)
        #expect(outcome.stderr.split(separator: "\n").count == 1)
    }

    @Test("a cluster node over rediss:// with --redis-ca serves chat; an untrusted certificate is one sentence and exit 1")
    func redisOverTLS() async throws {
        let certificates = try await TestCertificates.make()
        let redis = try await RedisServerProcess(tls: certificates)
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--redis-ca", certificates.authority])
        let port = try await node.waitUntilListening()
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"secure"}"#)
        #expect(await client.nextMessage()?.string("type") == "welcome")
        try await client.send(#"{"type":"say","text":"over TLS"}"#)
        #expect(await client.nextMessage()?.string("text") == "over TLS")
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)

        let otherAuthority = try await TestCertificates.make().authority
        let refused = try await NodeProcess(arguments: ["--port", "0", "--redis", redis.url, "--redis-ca", otherAuthority]).waitForExit(timeout: .seconds(40))
        #expect(refused.status != 0)
        #expect(refused.stderr.split(separator: "\n").count == 1, "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("is not signed by an authority this node trusts"), "stderr: \(refused.stderr)")
        #expect(!refused.stderr.contains("BoringSSL") && !refused.stderr.contains(".cc:"), "no TLS library dump: \(refused.stderr)")
    }

    @Test("chat-node token signs with each kind of key; a node given the matching key accepts the token")
    func tokenCommand() async throws {
        let keys = try await sharedLoginKeys.value
        for (signingKey, verifyingKey) in [
            (keys.hs256, keys.hs256), (keys.rsaPrivateKey, keys.rsaPublicKey), (keys.ecPrivateKey, keys.ecPublicKey), (keys.edPrivateKey, keys.edPublicKey),
        ] {
            let minted = try await NodeProcess(
                arguments: ["token", "--key", signingKey, "--sub", "user-1", "--nick", "Åsa", "--rooms", "private.a,private.b", "--ttl", "120"]
            ).waitForExit()
            #expect(minted.status == 0, "\(minted.stderr)")
            let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(minted.stdout.split(separator: "\n").count == 1)
            let verifier = try await LoginVerifier.load(keys: verifyingKey, audience: nil, issuer: nil)
            let identity = try verifier.verify(token, now: Date().timeIntervalSince1970).get()
            #expect(identity.subject == "user-1")
            #expect(identity.nick == "Åsa")
            #expect(identity.rooms == ["private.a", "private.b"])
            #expect(abs(identity.expiresAt - Date().timeIntervalSince1970 - 120) < 5)
        }
        let node = try NodeProcess(arguments: ["--port", "0", "--auth-key", keys.edPublicKey])
        let port = try await node.waitUntilListening()
        let token = try await NodeProcess(arguments: ["token", "--key", keys.edPrivateKey, "--sub", "u9"]).waitForExit().stdout
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"minted","token":"\#(token.trimmingCharacters(in: .whitespacesAndNewlines))"}"#)
        #expect(await client.nextMessage()?.string("type") == "welcome")
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)
    }

    @Test("--auth-key naming a private key or a file that is not a key is one line and exit 1")
    func badAuthKeys() async throws {
        let keys = try await sharedLoginKeys.value
        for (path, expected) in [(keys.rsaPrivateKey, "private key"), (keys.secretFile, "neither a PEM public key nor a JWKS")] {
            let outcome = try await NodeProcess(arguments: ["--port", "0", "--auth-key", path]).waitForExit()
            #expect(outcome.status != 0)
            #expect(outcome.stderr.split(separator: "\n").count == 1, "stderr: \(outcome.stderr)")
            #expect(outcome.stderr.contains(expected), "stderr: \(outcome.stderr)")
        }
    }

    @Test("chat-node ready exits 0 while the node on that port can serve chat, 1 when nothing ready answers there")
    func readinessProbe() async throws {
        let node = try NodeProcess(arguments: ["--port", "0"])
        let port = try await node.waitUntilListening()
        #expect(try await NodeProcess(arguments: ["ready", String(port)]).waitForExit().status == 0)
        node.signal(SIGTERM)
        #expect(await node.waitForExit().status == 0)
        #expect(try await NodeProcess(arguments: ["ready", String(port)]).waitForExit().status == 1)
    }

    @Test("every start-up refusal is one sentence on standard error: no type dump, no source path")
    func startupRefusalsAreSentences() async throws {
        let protected = try await RedisServerProcess(password: "right-password")
        defer { protected.stop() }
        // A privileged port nothing listens on: a free port found now could be another test's Redis by the time the node tries it.
        let nobody = 1
        let shortKey = FileManager.default.temporaryDirectory.appendingPathComponent("chat-short-key-\(UUID().uuidString)").path
        try Data("short\n".utf8).write(to: URL(fileURLWithPath: shortKey))
        defer { try? FileManager.default.removeItem(atPath: shortKey) }
        let cases: [(arguments: [String], says: String)] = [
            (["--redis", "redis://127.0.0.1:\(nobody)"], "127.0.0.1:\(nobody)"),
            (["--redis", "redis://:wrong-password@127.0.0.1:\(protected.port)"], "password"),
            (["--redis", "redis-sentinel://127.0.0.1:\(nobody)#chat"], "Sentinel"),
            (["--redis", "redis-cluster://127.0.0.1:\(nobody)"], "127.0.0.1:\(nobody)"),
            (["--api-key-file", shortKey], "--api-key-file"),
            (["--auth-key", shortKey], "--auth-key"),
        ]
        for (arguments, says) in cases {
            let outcome = try await NodeProcess(arguments: ["--port", "0"] + arguments).waitForExit(timeout: .seconds(40))
            let line = outcome.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(outcome.status != 0, "\(arguments)")
            #expect(outcome.stderr.split(separator: "\n").count == 1, "\(arguments): \(outcome.stderr)")
            #expect(line.localizedCaseInsensitiveContains(says), "\(arguments): \(line)")
            for dump in ["Error(", ".swift", "NIOCore", "NIOSSL", "BoringSSL", "Optional(", "RedisError"] {
                #expect(!line.contains(dump), "\(arguments): \(line)")
            }
        }
    }

    @Test("what a node logs while Redis goes away and comes back is sentences: no type dump, no source path")
    func runtimeLogLinesAreSentences() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--redis", redis.url])
        let port = try await node.waitUntilListening()
        let client = try await WebSocketTestClient.connect(port: port)
        try await client.send(#"{"type":"hello","nick":"watcher"}"#)
        #expect(await client.nextMessage()?.string("type") == "welcome")
        redis.stop()
        try await Task.sleep(for: .seconds(2))
        try await redis.start()
        try await Task.sleep(for: .seconds(3))
        node.signal(SIGTERM)
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("Redis command connection lost") }, "\(outcome.stderr)")
        #expect(lines.contains { $0.contains("resynchronised with Redis") }, "\(outcome.stderr)")
        for line in lines {
            for dump in ["Error(", ".swift", "NIOCore", "NIOSSL", "BoringSSL", "Optional(", "RedisError", "ChannelError"] {
                #expect(!line.contains(dump), "\(line)")
            }
        }
    }

    @Test("a port already in use gives one line on standard error and a non-zero exit")
    func portInUse() async throws {
        let first = try NodeProcess(arguments: ["--port", "0"])
        let port = try await first.waitUntilListening()
        let second = try await NodeProcess(arguments: ["--port", String(port)]).waitForExit()
        #expect(second.status != 0)
        #expect(second.stderr.split(separator: "\n").count == 1, "stderr: \(second.stderr)")
        #expect(second.stderr.contains("in use"))
        first.signal(SIGTERM)
        #expect(await first.waitForExit().status == 0)
    }

    @Test("SIGTERM closes every client with 1001 and exits 0 within 5 s")
    func sigterm() async throws {
        let node = try NodeProcess(arguments: ["--port", "0", "--node-id", "exe"])
        let port = try await node.waitUntilListening()
        let alice = try await WebSocketTestClient.connect(port: port)
        try await alice.send(#"{"type":"hello","nick":"alice"}"#)
        #expect(await alice.nextMessage()?.string("type") == "welcome")
        let bob = try await WebSocketTestClient.connect(port: port)
        try await bob.send(#"{"type":"hello","nick":"bob"}"#)
        #expect(await bob.nextMessage()?.string("type") == "welcome")
        #expect(await alice.nextMessage()?.string("type") == "joined")

        let started = ContinuousClock.now
        node.signal(SIGTERM)
        var codes: [UInt16?] = []
        for client in [alice, bob] {
            var code: UInt16?
            while let event = await client.next(timeout: .seconds(5)) {
                if case .close(let received, _) = event { code = received }
                if event == .disconnected { break }
            }
            codes.append(code)
        }
        #expect(codes == [1001, 1001])
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("SIGTERM exits 0 within 5 s despite a silent socket, a half-sent request and a client that never answers the close frame")
    func sigtermWithMisbehavingSockets() async throws {
        let node = try NodeProcess(arguments: ["--port", "0", "--node-id", "exe"])
        let port = try await node.waitUntilListening()
        let silent = try await RawTCPClient.connect(port: port)
        let halfSent = try await RawTCPClient.connect(port: port)
        try await halfSent.send("GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webso")
        let deaf = try await WebSocketTestClient.connect(port: port, autoPong: false)
        try await deaf.send(#"{"type":"hello","nick":"deaf"}"#)
        #expect(await deaf.nextMessage()?.string("type") == "welcome")

        let started = ContinuousClock.now
        node.signal(SIGTERM)
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        #expect(ContinuousClock.now - started < .seconds(5))
        _ = silent
    }

    @Test("SIGTERM exits 0 within 5 s while its Redis is frozen (SIGSTOP): no shutdown step waits on Redis for long")
    func sigtermWithFrozenRedis() async throws {
        let redis = try await RedisServerProcess()
        defer { redis.stop() }
        let node = try NodeProcess(arguments: ["--port", "0", "--node-id", "exe", "--redis", redis.url])
        let port = try await node.waitUntilListening()
        let alice = try await WebSocketTestClient.connect(port: port)
        try await alice.send(#"{"type":"hello","nick":"alice"}"#)
        #expect(await alice.nextMessage()?.string("type") == "welcome")

        redis.pause()
        defer { redis.resume() }
        let started = ContinuousClock.now
        node.signal(SIGTERM)
        #expect(await alice.closeCode() == .some(1001))
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        let took = ContinuousClock.now - started
        #expect(took < .seconds(5))
        print("exit with a frozen Redis after \(took)")
    }

    @Test("--log-format json writes one JSON object per line with time, level, message and node")
    func jsonLogs() async throws {
        let node = try NodeProcess(arguments: ["--port", "0", "--node-id", "json-node", "--log-format", "json"])
        _ = try await node.waitUntilListening()
        node.signal(SIGTERM)
        let outcome = await node.waitForExit()
        #expect(outcome.status == 0)
        let lines = outcome.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            guard case .object(let object) = try JSONParser.parse(Array(line.utf8)) else {
                Issue.record("not a JSON object: \(line)")
                continue
            }
            #expect(object["time"]?.stringValue?.hasSuffix("Z") == true)
            #expect(object["level"]?.stringValue != nil)
            #expect(object["message"]?.stringValue != nil)
            #expect(object["node"]?.stringValue == "json-node")
        }
    }

    @Test("SIGINT also shuts down cleanly")
    func sigint() async throws {
        let node = try NodeProcess(arguments: ["--port", "0"])
        _ = try await node.waitUntilListening()
        node.signal(SIGINT)
        #expect(await node.waitForExit().status == 0)
    }
}
