import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// A network failure in the words an operator acts on ("connection refused",
/// "the host name does not resolve") rather than the error value's
/// description, which names Swift types and, for TLS, the library's source files.
public enum NetworkFailure {
    /// What went wrong, as one lower-case phrase that can follow a colon.
    public static func sentence(for error: any Error) -> String {
        switch error {
        case let error as RedisError:
            return error.message
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "the host name does not resolve (check the host in the URL)"
            }
            // Happy Eyeballs tried each address; the first failure says enough.
            guard let first = error.connectionErrors.first else { return "the host name has no addresses" }
            return sentence(for: first.error)
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case let error as ChannelError:
            return sentence(for: error)
        case is NIOSSLError, is BoringSSLError, is NIOSSLExtraError:
            return TLSFailure.problem(error).phrase
        default:
            return "\(error)"
        }
    }

    private static func sentence(for error: ChannelError) -> String {
        switch error {
        case .connectTimeout(let timeout):
            return "no answer within \(Duration.nanoseconds(timeout.nanoseconds)) (is it reachable from here?)"
        case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof:
            return "the connection was closed"
        case .writeHostUnreachable:
            return "the host is unreachable"
        default:
            return "the connection failed"
        }
    }
}
