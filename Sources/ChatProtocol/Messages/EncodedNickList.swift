/// A list of nicks already encoded as a JSON array.
///
/// `welcome` and `users` carry every joined nick. A node keeps its list
/// encoded as users come and go, so sending it copies bytes instead of
/// encoding (and sorting) every nick again. The bytes come in chunks (a
/// node keeps one per page of its sorted list): taking the list shares
/// the chunks, and only writing the event copies them, once.
public struct EncodedNickList: Sendable, Equatable, ExpressibleByArrayLiteral {
    /// The array's items in order, in chunks of one or more encoded strings
    /// joined by commas; no chunk is empty.
    public let chunks: [[UInt8]]
    /// How many bytes the JSON array takes, brackets included.
    public let byteCount: Int

    /// Wraps chunks of encoded strings, each chunk's strings joined by commas.
    public init(chunks: [[UInt8]]) {
        let nonEmpty = chunks.filter { !$0.isEmpty }
        self.chunks = nonEmpty
        self.byteCount = 2 + nonEmpty.reduce(0) { $0 + $1.count } + max(nonEmpty.count - 1, 0)
    }

    /// Encodes `nicks` in the order given.
    public init(_ nicks: [String]) {
        var chunk: [UInt8] = []
        chunk.reserveCapacity(nicks.count * 12)
        for nick in nicks {
            if !chunk.isEmpty { chunk.append(UInt8(ascii: ",")) }
            JSONWriter.appendEncodedString(nick, to: &chunk)
        }
        self.init(chunks: [chunk])
    }

    public init(arrayLiteral nicks: String...) {
        self.init(nicks)
    }

    /// The JSON array, brackets included: `["alice","bob"]`.
    public var json: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        write(into: &bytes)
        return bytes
    }

    /// Appends the JSON array to `bytes`.
    func write(into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "["))
        for (index, chunk) in chunks.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: chunk)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The nicks, decoded again (tests and tools).
    public var nicks: [String] {
        guard case .array(let values) = try? JSONParser.parse(json) else { return [] }
        return values.compactMap(\.stringValue)
    }

    public static func == (lhs: EncodedNickList, rhs: EncodedNickList) -> Bool {
        lhs.json == rhs.json
    }
}
