import NIOCore
import NIOSSL

/// Asks a group's Sentinels, in order, where its master is now.
enum SentinelMasterLookup {
    /// The master's address according to the first Sentinel that knows it;
    /// fails with every Sentinel's answer when none does.
    static func master(
        of group: RedisSentinelGroup,
        tls: NIOSSLContext?,
        on eventLoop: any EventLoop,
        connectTimeout: TimeAmount,
        connection: (RedisServerAddress) -> RedisURL
    ) async throws(RedisError) -> RedisServerAddress {
        var failures: [String] = []
        for sentinel in group.sentinels {
            do throws(RedisError) {
                let channel = try await RedisChannelConnector.open(
                    connection(sentinel), tls: tls, on: eventLoop, connectTimeout: connectTimeout
                )
                defer { channel.close(promise: nil) }
                let reply = try await RedisChannelConnector.send(
                    RedisCommand(["SENTINEL", "get-master-addr-by-name", group.masterName]), on: channel
                )
                if let master = masterAddress(in: reply) { return master }
                switch reply {
                case .null: failures.append("Sentinel \(sentinel) knows no master named \"\(group.masterName)\"")
                case .error(let text): failures.append("Sentinel \(sentinel) refused: \(text)")
                default: failures.append("Sentinel \(sentinel) answered \(reply)")
                }
            } catch {
                failures.append(error.message)
            }
        }
        throw RedisError(
            .connectionFailed, "no Sentinel named the master of \"\(group.masterName)\": \(failures.joined(separator: "; "))"
        )
    }

    /// `[host, port]`, as `SENTINEL get-master-addr-by-name` answers.
    private static func masterAddress(in reply: RedisReply) -> RedisServerAddress? {
        guard let parts = reply.array, parts.count == 2, let host = parts[0].string,
            let portText = parts[1].string, let port = Int(portText)
        else { return nil }
        return RedisServerAddress(host: host, port: port)
    }
}
