import CHiredis
import NIOCore

/// A Redis command formatted as RESP by hiredis, ready to be written.
public struct RedisCommand: Sendable {
    /// The encoded bytes of the command.
    public let bytes: ByteBuffer

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
