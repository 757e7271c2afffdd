import ChatNode
import Redis
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Turns an error that stopped the node into the one line an operator reads.
enum StartupFailure {
    static func describe(_ error: any Error, configuration: NodeConfiguration) -> String {
        if let error = error as? IOError {
            if error.errnoCode == EADDRINUSE {
                return "cannot listen on \(configuration.host):\(configuration.port): address already in use"
            }
            if error.errnoCode == EADDRNOTAVAIL {
                return "cannot listen on \(configuration.host):\(configuration.port): address not available on this machine"
            }
            if error.errnoCode == EACCES {
                return "cannot listen on \(configuration.host):\(configuration.port): permission denied"
            }
        }
        if error is SocketAddressError.UnknownHost {
            return "cannot listen on \(configuration.host):\(configuration.port): the host name does not resolve (check --host)"
        }
        return "stopped: \(NetworkFailure.sentence(for: error))"
    }
}
