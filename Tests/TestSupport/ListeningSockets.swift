import Foundation

/// Which process listens on a TCP port, read from Linux's `/proc`.
enum ListeningSockets {
    /// Whether process `pid` holds a socket listening on TCP `port` (IPv4 or IPv6).
    static func process(_ pid: Int32, listensOn port: Int) -> Bool {
        let inodes = listeningInodes(port: port)
        guard !inodes.isEmpty,
            let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        else { return false }
        return descriptors.contains { descriptor in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)") else { return false }
            return inodes.contains(target)
        }
    }

    /// The `socket:[inode]` names of the sockets listening on `port`.
    private static func listeningInodes(port: Int) -> Set<String> {
        var inodes: Set<String> = []
        let portHex = String(format: "%04X", port)
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count > 9, fields[3] == "0A", fields[1].hasSuffix(":" + portHex) else { continue }
                inodes.insert("socket:[\(fields[9])]")
            }
        }
        return inodes
    }
}
