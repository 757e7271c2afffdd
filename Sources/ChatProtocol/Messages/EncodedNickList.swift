/// A list of nicks already encoded as a JSON array.
///
/// `welcome` and `users` carry every joined nick. A node keeps its list
/// encoded as users come and go, so sending it copies bytes instead of
/// encoding (and sorting) every nick again.
public struct EncodedNickList: Sendable, Equatable, ExpressibleByArrayLiteral {
    /// The JSON array, brackets included: `["alice","bob"]`.
    public let json: [UInt8]

    /// Wraps bytes that already are a JSON array of strings.
    public init(json: [UInt8]) {
        self.json = json
    }

    /// Encodes `nicks` in the order given.
    public init(_ nicks: [String]) {
        var writer = JSONWriter(capacity: 2 + nicks.count * 12)
        writer.beginArray()
        for nick in nicks { writer.string(nick) }
        writer.endArray()
        self.json = writer.bytes
    }

    public init(arrayLiteral nicks: String...) {
        self.init(nicks)
    }

    /// The nicks, decoded again (tests and tools).
    public var nicks: [String] {
        guard case .array(let values) = try? JSONParser.parse(json) else { return [] }
        return values.compactMap(\.stringValue)
    }
}
