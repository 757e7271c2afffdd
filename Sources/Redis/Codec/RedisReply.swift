/// One reply from Redis (RESP2), copied out of hiredis's reply object.
public enum RedisReply: Sendable, Equatable {
    /// `+OK` and other status lines.
    case status(String)
    /// `-ERR ...`: Redis refused the command; the text says why.
    case error(String)
    /// `:42`.
    case integer(Int64)
    /// `$n` bulk string, binary safe.
    case bulk([UInt8])
    /// `$-1` or `*-1`.
    case null
    /// `*n`.
    case array([RedisReply])

    /// The reply as text, for status and bulk replies.
    public var string: String? {
        switch self {
        case .status(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The reply as an integer, for integer replies.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The elements of an array reply.
    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }
}
