import CZlib
import NIOCore

/// Compresses whole messages for `permessage-deflate` without context
/// takeover: each message on its own, so the same bytes can go to every
/// recipient. One per bus (it is not thread-safe), never one per connection.
final class MessageDeflater {
    private var stream = z_stream()
    private let isReady: Bool

    init() {
        // Raw deflate (negative window bits), 15-bit window, default level.
        isReady = deflateInit2_(
            &stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)
        ) == Z_OK
    }

    deinit {
        if isReady { deflateEnd(&stream) }
    }

    /// `payload` compressed as one message's data (the final `00 00 ff ff`
    /// removed, RFC 7692 §7.2.1), or nil when compressing fails or does not make it smaller.
    func compress(_ payload: [UInt8]) -> [UInt8]? {
        guard isReady, !payload.isEmpty else { return nil }
        deflateReset(&stream)
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(payload.count))) + 16)
        let produced: Int? = payload.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = deflate(&stream, Z_SYNC_FLUSH)
                guard status == Z_OK || status == Z_BUF_ERROR, stream.avail_in == 0 else { return nil }
                return out.count - Int(stream.avail_out)
            }
        }
        guard let produced, produced >= 4 else { return nil }
        let length = produced - 4  // the sync flush's empty block
        guard length < payload.count else { return nil }
        output.removeSubrange(length...)
        return output
    }
}

/// Inflates compressed client messages, one at a time, for every connection
/// of one event loop: with client context takeover off, nothing carries
/// over from one message to the next, so the connections can share it.
final class MessageInflater {
    /// Why a compressed message was refused.
    enum Failure: Error {
        /// It inflates beyond the message size limit (close with 1009).
        case tooLarge
        /// It is not valid deflate data (close with 1007).
        case corrupt
    }

    private var stream = z_stream()
    private let isReady: Bool

    init() {
        isReady = inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    }

    deinit {
        if isReady { inflateEnd(&stream) }
    }

    /// The most bytes deflate can make of `size` bytes: data it cannot
    /// shrink goes in stored blocks, a few bytes longer (zlib's `deflateBound`).
    static func largestDeflated(of size: Int) -> Int {
        size + (size >> 12) + (size >> 14) + (size >> 25) + 7
    }

    /// The message's data inflated, at most `limit` bytes.
    func inflate(_ compressed: ByteBuffer, limit: Int) throws(Failure) -> ByteBuffer {
        guard isReady else { throw .corrupt }
        inflateReset(&stream)
        var input = Array(compressed.readableBytesView)
        input.append(contentsOf: [0x00, 0x00, 0xFF, 0xFF])
        var output = [UInt8](repeating: 0, count: limit + 1)
        let result: Result<Int, Failure> = input.withUnsafeMutableBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                stream.next_in = input.baseAddress
                stream.avail_in = uInt(input.count)
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                let status = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                let produced = out.count - Int(stream.avail_out)
                if produced > limit { return .failure(.tooLarge) }
                guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else { return .failure(.corrupt) }
                // Everything given must have been consumed, else more output was pending.
                guard stream.avail_in == 0 else { return .failure(produced >= limit ? .tooLarge : .corrupt) }
                return .success(produced)
            }
        }
        let produced = try result.get()
        return ByteBuffer(bytes: output[..<produced])
    }
}
