/// Writes compact JSON into a byte array.
///
/// Server events have a fixed shape, so they are written field by field
/// instead of going through `Encodable`: one pass, no intermediate tree.
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = []

    /// Creates an empty writer; `capacity` is a hint for the output size.
    public init(capacity: Int = 128) {
        bytes.reserveCapacity(capacity)
    }

    /// Opens an object, as a member value or at the top level.
    public mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    /// Closes the innermost object.
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    /// Opens an array.
    public mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    /// Closes the innermost array.
    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma.removeLast()
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        separate()
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    /// Writes a string value.
    public mutating func string(_ value: String) {
        separate()
        writeString(value)
    }

    /// Writes an integer value.
    public mutating func integer(_ value: Int64) {
        separate()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes a member whose value is a string.
    public mutating func member(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// Writes a member whose value is an integer.
    public mutating func member(_ name: String, _ value: Int64) {
        key(name)
        integer(value)
    }

    /// Writes a member whose value is `true` or `false`.
    public mutating func member(_ name: String, _ value: Bool) {
        key(name)
        separate()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// Writes a member whose value is a string, or nothing when `value` is nil.
    public mutating func optionalMember(_ name: String, _ value: String?) {
        if let value { member(name, value) }
    }

    /// Writes a member whose value is an array of strings.
    public mutating func member(_ name: String, _ values: [String]) {
        key(name)
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    /// Writes a member whose value is a list of nicks encoded elsewhere, copied as is.
    /// Writes `name` and rooms with their counts: `[{"room": name, "count": members}]`.
    public mutating func member(_ name: String, _ rooms: [RoomCount]) {
        key(name)
        beginArray()
        for entry in rooms {
            beginObject()
            member("room", entry.room.value)
            member("count", Int64(entry.count))
            endObject()
        }
        endArray()
    }

    public mutating func member(_ name: String, _ list: EncodedNickList) {
        key(name)
        separate()
        bytes.reserveCapacity(bytes.count + list.byteCount + 256)
        list.write(into: &bytes)
    }

    /// Writes a string's JSON form (quotes and escapes included) into `bytes`,
    /// so callers can keep pre-encoded strings.
    public static func encodedString(_ value: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.utf8.count + 2)
        appendEncodedString(value, to: &bytes)
        return bytes
    }

    private mutating func separate() {
        guard let last = needsComma.last else { return }
        if last {
            bytes.append(UInt8(ascii: ","))
        } else {
            needsComma[needsComma.count - 1] = true
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends a string's JSON form (quotes and escapes included) to `bytes`.
    public static func appendEncodedString(_ value: String, to bytes: inout [UInt8]) {
        var value = value
        // Native strings are contiguous UTF-8: copy the runs that need no escape in bulk.
        value.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            var runStart = 0
            for (offset, byte) in utf8.enumerated() where needsEscape(byte) {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<offset]))
                appendEscaped(byte, to: &bytes)
                runStart = offset + 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
            bytes.append(UInt8(ascii: "\""))
        }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0x7F
    }

    private static func appendEscaped(_ byte: UInt8, to bytes: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        default:
            bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, Self.hexDigits[Int(byte >> 4)], Self.hexDigits[Int(byte & 0xF)]])
        }
    }

    private mutating func writeString(_ value: String) {
        Self.appendEncodedString(value, to: &bytes)
    }
}
