import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Why a TCP connection could not be made, in the words an operator acts on
/// ("connection refused", "unknown host") rather than NIO's nested error values.
enum ConnectFailureReason {
    /// The reason for `error`, a failure of `ClientBootstrap.connect`.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return "the host name does not resolve (check the host in the URL)"
            }
            // Happy Eyeballs tried each address; the first failure says enough.
            guard let first = error.connectionErrors.first else { return "the host name has no addresses" }
            return describe(first.error)
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case ChannelError.connectTimeout(let timeout):
            return "no answer within \(Duration.nanoseconds(timeout.nanoseconds)) (is it reachable from here?)"
        default:
            return "\(error)"
        }
    }
}
