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
        self.sha1 = SHA1.hexDigest(of: Array(source.utf8))
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

/// SHA-1 (FIPS 180-4), only to name scripts the way Redis does; not for anything secret.
enum SHA1 {
    static func hexDigest(of message: [UInt8]) -> String {
        var state: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var padded = message
        padded.append(0x80)
        while padded.count % 64 != 56 { padded.append(0) }
        let bitLength = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { padded.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        var words = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for index in 0..<16 {
                let offset = chunk + index * 4
                words[index] = UInt32(padded[offset]) << 24 | UInt32(padded[offset + 1]) << 16
                    | UInt32(padded[offset + 2]) << 8 | UInt32(padded[offset + 3])
            }
            for index in 16..<80 {
                words[index] = (words[index - 3] ^ words[index - 8] ^ words[index - 14] ^ words[index - 16]).rotatedLeft(by: 1)
            }
            var (a, b, c, d, e) = (state[0], state[1], state[2], state[3], state[4])
            for index in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch index {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let next = a.rotatedLeft(by: 5) &+ f &+ e &+ k &+ words[index]
                (e, d, c, b, a) = (d, c, b.rotatedLeft(by: 30), a, next)
            }
            state[0] &+= a
            state[1] &+= b
            state[2] &+= c
            state[3] &+= d
            state[4] &+= e
        }
        let hexDigits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(40)
        for word in state {
            for shift in stride(from: 28, through: 0, by: -4) { hex.append(hexDigits[Int(word >> UInt32(shift) & 0xF)]) }
        }
        return String(decoding: hex, as: UTF8.self)
    }
}

extension UInt32 {
    fileprivate func rotatedLeft(by count: UInt32) -> UInt32 {
        self << count | self >> (32 - count)
    }
}
