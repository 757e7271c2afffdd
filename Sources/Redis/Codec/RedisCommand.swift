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
        self.init(arguments, slot: Self.routingKey(of: arguments).map(HashSlot.init(key:)))
    }

    /// Formats a command that a Redis Cluster routes by `key` (for a
    /// script, its first key), so the arguments need not be parsed for it.
    public init(_ arguments: [[UInt8]], routedBy key: [UInt8]?) {
        self.init(arguments, slot: key.map(HashSlot.init(key:)))
    }

    private init(_ arguments: [[UInt8]], slot: HashSlot?) {
        self.bytes = Self.format(arguments)
        self.slot = slot
    }

    /// RESP for `arguments`, formatted by hiredis. The arguments are laid
    /// out in one block, with their pointers and lengths, in temporary
    /// storage (on the stack for a command of ordinary size): this runs
    /// for every command, a chat line's included.
    private static func format(_ arguments: [[UInt8]]) -> ByteBuffer {
        let count = arguments.count
        var total = 0
        for argument in arguments { total += argument.count }
        return withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: count) { argv in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { lengths in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(total, 1)) { block in
                    var offset = 0
                    for (index, argument) in arguments.enumerated() {
                        let start = block.baseAddress! + offset
                        argument.withUnsafeBufferPointer { source in
                            if let base = source.baseAddress { start.initialize(from: base, count: source.count) }
                        }
                        argv[index] = UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self)
                        lengths[index] = argument.count
                        offset += argument.count
                    }
                    var output: UnsafeMutablePointer<CChar>?
                    let length = redisFormatCommandArgv(&output, Int32(count), argv.baseAddress!, lengths.baseAddress!)
                    guard length >= 0, let output else { fatalError("hiredis: out of memory formatting a command") }
                    defer { redisFreeCommand(output) }
                    return ByteBuffer(bytes: UnsafeRawBufferPointer(start: output, count: Int(length)))
                }
            }
        }
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
