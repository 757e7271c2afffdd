/// A valid room name (PROTOCOL.md §6): 1–32 of `a-z`, `0-9`, `-`, `_` and
/// `.`, starting with a letter or digit. Names are not folded: `Rust` is
/// not a room name, and `rust` is.
public struct RoomName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name as clients and Redis keys spell it.
    public let value: String

    /// Room names are 1...32 characters.
    public static let maximumLength = 32

    /// The room every v1 and v2 client lives in, which always exists.
    public static let lobby = RoomName(trusted: "lobby")

    /// Validates `raw`; nil when it breaks a rule (the client gets `room_invalid`).
    public init?(validating raw: String) {
        let bytes = raw.utf8
        guard let first = bytes.first, bytes.count <= Self.maximumLength, Self.isLetterOrDigit(first),
            bytes.allSatisfy(Self.isAllowed)
        else { return nil }
        self.value = raw
    }

    /// Rebuilds a name that another node or the store already validated.
    public init(trusted value: String) {
        self.value = value
    }

    public var description: String { value }

    public static func < (lhs: RoomName, rhs: RoomName) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        isLetterOrDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
    }
}

/// The rules of a `who` page request (PROTOCOL.md §6).
public enum MemberPageRules {
    /// `prefix` and `after` are at most this many characters.
    public static let maximumKeyLength = 24
    /// `limit` is 1...1000, 100 when absent.
    public static let limits = 1...1000
    /// The page size when `limit` is absent.
    public static let defaultLimit = 100
}
