#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fast scans over a frame's bytes for the storm's clients, which must read
/// ten thousand users' worth of JSON per client without costing more than
/// the servers they measure: libc's vectorised `memchr` to find,
/// and eight bytes at a time to count.
enum ByteScan {
    /// How many bytes of `bytes` equal `byte`.
    static func count(_ byte: UInt8, in bytes: UnsafeRawBufferPointer) -> Int {
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        let low7 = UInt64(0x7F7F_7F7F_7F7F_7F7F)
        var total = 0
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) ^ pattern
            // The high bit of each byte of `zeros` is set exactly where `word` has a zero byte.
            let zeros = ~(((word & low7) &+ low7) | word | low7)
            total += zeros.nonzeroBitCount
            offset += 8
        }
        while offset < bytes.count {
            if bytes[offset] == byte { total += 1 }
            offset += 1
        }
        return total
    }

    /// The offset of the first `byte` at or after `start`, if any.
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// The offset just after the first occurrence of `marker` at or after `start`, if any.
    static func end(of marker: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard let first = marker.first, let base = bytes.baseAddress else { return nil }
        var candidate = start
        while let found = firstIndex(of: first, in: bytes, from: candidate) {
            guard found + marker.count <= bytes.count else { return nil }
            let matches = marker.withUnsafeBytes { memcmp(base + found, $0.baseAddress!, marker.count) == 0 }
            if matches { return found + marker.count }
            candidate = found + 1
        }
        return nil
    }
}
