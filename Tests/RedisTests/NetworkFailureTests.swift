import NIOCore
import NIOSSL
import Testing

@testable import Redis

#if canImport(Glibc)
import Glibc
#endif

/// Network failures reach logs and start-up refusals as phrases an operator
/// acts on, never as the description of a Swift error value.
@Suite("Network failures in words")
struct NetworkFailureTests {
    @Test("socket errors read as the system's words for them")
    func socketErrors() {
        #expect(NetworkFailure.sentence(for: IOError(errnoCode: ECONNREFUSED, reason: "connect")) == "connection refused")
        #expect(NetworkFailure.sentence(for: IOError(errnoCode: ECONNRESET, reason: "read")) == "connection reset by peer")
    }

    @Test("channel errors read as what happened to the connection")
    func channelErrors() {
        #expect(NetworkFailure.sentence(for: ChannelError.ioOnClosedChannel) == "the connection was closed")
        #expect(NetworkFailure.sentence(for: ChannelError.eof) == "the connection was closed")
        #expect(NetworkFailure.sentence(for: ChannelError.connectTimeout(.seconds(2))) == "no answer within 2.0 seconds (is it reachable from here?)")
    }

    @Test("TLS errors name the problem, not the library's types or source files")
    func tlsErrors() {
        let phrases = [
            NetworkFailure.sentence(for: NIOSSLError.uncleanShutdown),
            NetworkFailure.sentence(for: NIOSSLExtraError.failedToValidateHostname),
            NetworkFailure.sentence(for: NIOSSLError.handshakeFailed(.unknownError([]))),
        ]
        #expect(phrases == [
            "the server does not speak TLS on this port",
            "the server's certificate does not name the host this node connects to",
            "the TLS session failed",
        ])
        for phrase in phrases {
            #expect(!phrase.contains("NIOSSL") && !phrase.contains("Error") && !phrase.contains(".cc"))
        }
    }

    @Test("a Redis error is its own message")
    func redisErrors() {
        #expect(NetworkFailure.sentence(for: RedisError(.errorReply, "NOAUTH Authentication required.")) == "NOAUTH Authentication required.")
    }
}
