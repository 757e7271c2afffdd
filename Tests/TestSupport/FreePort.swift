import Foundation
import Synchronization

/// Finds free loopback ports for servers that tests start.
///
/// Tests restart servers on the same port (a Redis outage, a failover). If
/// the port came from the kernel's ephemeral range, anything else running
/// meanwhile can take it: another test's server bound to port 0, or any
/// outgoing connection, whose source port comes from that range. A node
/// would then reconnect to a stranger (another test's Redis, with its own
/// `alice`). So ports come from just below the ephemeral range, and a
/// process never hands out the same port twice.
public enum FreePort {
    /// How many ports below the ephemeral range tests draw from.
    private static let poolSize = 10_000
    /// Counts the ports handed out, so each call starts past the last one.
    private static let handedOut = Atomic<Int>(0)

    /// A port that is free now, that no other `find` in this process returned,
    /// and that the kernel does not hand out to port-0 binds or outgoing connections.
    public static func find() throws -> Int {
        let pool = candidatePorts()
        // Processes that run side by side start at different places in the pool.
        let start = Int(getpid()) &* 7919
        for _ in 0..<pool.count {
            let offset = handedOut.add(1, ordering: .relaxed).newValue
            let port = pool.lowerBound + (start &+ offset) % pool.count
            if canBind(port) { return port }
        }
        throw TestSupportError("no free port in \(pool)")
    }

    /// Whether something accepts TCP connections on the loopback port.
    public static func isListening(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = socketAddress(port: port, host: inet_addr("127.0.0.1"))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }

    /// The ports just below the kernel's ephemeral range (32768 by default).
    static func candidatePorts() -> Range<Int> {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let ephemeralStart = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        let upper = max(ephemeralStart, 1024 + poolSize)
        return (upper - poolSize)..<upper
    }

    /// Whether a listening server could bind the port on every address now
    /// (with `SO_REUSEADDR`, as servers do, so closed connections in TIME_WAIT do not count).
    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = socketAddress(port: port, host: INADDR_ANY)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return bound == 0
    }

    private static func socketAddress(port: Int, host: in_addr_t) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = host
        return address
    }
}
