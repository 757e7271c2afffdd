import CHiredis
import NIOCore

/// A Redis command formatted as RESP by hiredis, ready to be written.
public struct RedisCommand: Sendable {
    /// The encoded bytes of the command.
    public let bytes: ByteBuffer
    /// The hash slot of the key (or channel) the command touches first, which
    /// a Redis Cluster routes it by; nil for a command that touches none.
    public let slot: HashSlot?

    /// Formats a command from its arguments, e.g. `["PUBLISH", "chan", "hi"]`.
    public init(_ arguments: [String]) {
        self.init(arguments.map { Array($0.utf8) })
    }

    /// Formats a command from binary-safe arguments.
    public init(_ arguments: [[UInt8]]) {
        var output: UnsafeMutablePointer<CChar>?
        let length: Int32 = withArgv(arguments) { argv, lengths in
            redisFormatCommandArgv(&output, Int32(arguments.count), argv, lengths)
        }
        guard length >= 0, let output else { fatalError("hiredis: out of memory formatting a command") }
        defer { redisFreeCommand(output) }
        self.bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: output, count: Int(length)))
        self.slot = Self.routingKey(of: arguments).map(HashSlot.init(key:))
    }

    /// Commands that touch no key (or, like `SCRIPT LOAD`, none a cluster routes by).
    private static let keyless: Set<[UInt8]> = Set([
        "PING", "AUTH", "SELECT", "ROLE", "SCRIPT", "CLUSTER", "INFO", "ASKING", "CLIENT", "CONFIG", "DBSIZE", "KEYS", "HELLO",
        "SENTINEL", "FLUSHALL", "FLUSHDB", "ECHO", "TIME", "READONLY", "READWRITE",
    ].map { Array($0.utf8) })
    private static let eval = Array("EVAL".utf8)
    private static let evalSHA = Array("EVALSHA".utf8)

    /// The first key an argument list names: `EVAL`/`EVALSHA`'s first key,
    /// a (sharded) channel, or the first argument of a keyed command.
    static func routingKey(of arguments: [[UInt8]]) -> [UInt8]? {
        guard let first = arguments.first, arguments.count > 1 else { return nil }
        // This runs for every command: names are upper case already but for a rare caller, so copy only then.
        let isLowerCase = first.contains { $0 >= 0x61 && $0 <= 0x7A }
        let name = isLowerCase ? first.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 } : first
        if name == eval || name == evalSHA {
            guard arguments.count > 3, let count = Int(String(decoding: arguments[2], as: UTF8.self)), count > 0 else { return nil }
            return arguments[3]
        }
        return keyless.contains(name) ? nil : arguments[1]
    }
}

private func withArgv<Result>(
    _ arguments: [[UInt8]],
    _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
) -> Result {
    // Copy every argument into one contiguous block so the pointers stay valid for the call.
    var storage: [UInt8] = []
    var offsets: [Int] = []
    for argument in arguments {
        offsets.append(storage.count)
        storage.append(contentsOf: argument)
    }
    storage.append(0)
    let lengths = arguments.map(\.count)
    return storage.withUnsafeBufferPointer { block in
        let base = UnsafeRawPointer(block.baseAddress!).assumingMemoryBound(to: CChar.self)
        var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
        return argv.withUnsafeMutableBufferPointer { argvBuffer in
            lengths.withUnsafeBufferPointer { lengthBuffer in
                body(argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
            }
        }
    }
}
