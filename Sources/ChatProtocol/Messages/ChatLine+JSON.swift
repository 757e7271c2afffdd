extension ChatLine {
    /// Reads a line from the fields of a `message` object (`id`, `from`,
    /// `text`, `ts`, and `room`, `lobby` when absent); nil when one is
    /// missing or of the wrong type.
    public init?(fields object: [String: JSONValue]) {
        guard let id = object["id"]?.stringValue, let from = object["from"]?.stringValue,
            let text = object["text"]?.stringValue, let ts = object["ts"]?.int64Value
        else { return nil }
        let room = object["room"]?.stringValue.flatMap(RoomName.init(validating:)) ?? .lobby
        self.init(id: id, from: from, text: text, ts: ts, room: room)
    }
}
