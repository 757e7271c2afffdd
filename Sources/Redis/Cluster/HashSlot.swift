/// One of Redis Cluster's 16 384 hash slots: `CRC16(key) mod 16384`, where
/// only the part of the key inside its first non-empty `{…}` (the hash
/// tag) is hashed, so keys that share a tag share a slot and one script
/// may touch them all.
public struct HashSlot: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// How many slots a cluster has.
    public static let count = 16_384

    /// 0..<16 384.
    public let value: Int

    /// The slot numbered `value`, which must be in 0..<16 384.
    public init(_ value: Int) {
        precondition((0..<Self.count).contains(value), "a hash slot is 0..<16384, got \(value)")
        self.value = value
    }

    /// The slot of a key (or a sharded channel: they hash the same way).
    public init(key: String) {
        self.init(key: Array(key.utf8))
    }

    /// The slot of a key given as bytes.
    public init(key: [UInt8]) {
        self.value = Int(Self.crc16(Self.hashedPart(of: key)) % UInt16(Self.count))
    }

    public static func < (lhs: HashSlot, rhs: HashSlot) -> Bool { lhs.value < rhs.value }

    public var description: String { String(value) }

    /// The bytes between the first `{` and the next `}` when there are any; the whole key otherwise.
    static func hashedPart(of key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
            close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC-16/XMODEM (polynomial 0x1021, initial value 0), as Redis Cluster defines it.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte))]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}
