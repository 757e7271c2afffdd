import Crypto

/// A Lua script sent by its SHA-1 (`EVALSHA`), so a command carries 40
/// bytes instead of the script's source and Redis does not hash the source
/// again for every call. A `RedisConnection` made with the script loads it
/// (`SCRIPT LOAD`) each time it connects, before any command goes out.
public struct RedisScript: Sendable, Hashable {
    /// The script's Lua source.
    public let source: String
    /// The lowercase hex SHA-1 of the source: the name Redis caches it under.
    public let sha1: String

    /// `sha1` as the bytes a command carries.
    private let sha1Bytes: [UInt8]

    public init(_ source: String) {
        self.source = source
        let hexDigits = Array("0123456789abcdef".utf8)
        let digest = Insecure.SHA1.hash(data: Array(source.utf8))
        self.sha1 = String(decoding: digest.flatMap { [hexDigits[Int($0 >> 4)], hexDigits[Int($0 & 0xF)]] }, as: UTF8.self)
        self.sha1Bytes = Array(sha1.utf8)
    }

    /// `EVALSHA sha1 numkeys keys… arguments…`, routed by its first key in a Redis Cluster.
    public func command(keys: [[UInt8]], arguments: [[UInt8]]) -> RedisCommand {
        var all: [[UInt8]] = []
        all.reserveCapacity(3 + keys.count + arguments.count)
        all.append(Self.evalSHA)
        all.append(sha1Bytes)
        all.append(Array(String(keys.count).utf8))
        all.append(contentsOf: keys)
        all.append(contentsOf: arguments)
        return RedisCommand(all, routedBy: keys.first)
    }

    private static let evalSHA = Array("EVALSHA".utf8)

    /// `EVAL source numkeys keys… arguments…`, for a server that lost its script cache.
    public func sourceCommand(keys: [[UInt8]], arguments: [[UInt8]]) -> RedisCommand {
        RedisCommand([Array("EVAL".utf8), Array(source.utf8), Array(String(keys.count).utf8)] + keys + arguments)
    }

    /// `SCRIPT LOAD source`.
    public var loadCommand: RedisCommand {
        RedisCommand([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(source.utf8)])
    }
}
