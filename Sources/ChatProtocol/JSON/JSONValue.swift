/// A parsed JSON value, as strict RFC 8259 defines it.
///
/// Numbers keep their source text: the protocol never computes with client
/// numbers, it only needs to know that a field is not a string.
public enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The value as a whole number, for numbers written without fraction or exponent.
    public var int64Value: Int64? {
        if case .number(let text) = self { return Int64(text) }
        return nil
    }

    /// The string payload, or `nil` when the value is of another JSON type.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
