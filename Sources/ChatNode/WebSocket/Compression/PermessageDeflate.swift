/// Negotiation of `permessage-deflate` (RFC 7692) as this node speaks it:
/// no context takeover in either direction, so no compression state lives
/// per connection and one compressed copy of an event serves everyone.
enum PermessageDeflate {
    /// The `Sec-WebSocket-Extensions` answer to an accepted offer.
    static let response = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    /// The answer to the client's `Sec-WebSocket-Extensions` header values,
    /// or nil when no offer is acceptable (the connection goes on uncompressed).
    ///
    /// An offer is acceptable when each parameter is known and given once,
    /// and it does not ask for a server window smaller than 15 bits (the
    /// shared compressed bytes are made with one window size).
    static func negotiate(offers headerValues: [String]) -> String? {
        for offer in headerValues.flatMap({ $0.split(separator: ",") }) {
            let parts = offer.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard parts.first == "permessage-deflate" else { continue }
            if isAcceptable(parameters: parts.dropFirst()) { return response }
        }
        return nil
    }

    private static func isAcceptable(parameters: ArraySlice<String>) -> Bool {
        var seen: Set<String> = []
        for parameter in parameters {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: " \t\"") }
            let name = pair[0]
            guard seen.insert(name).inserted else { return false }
            let value = pair.count == 2 ? Int(pair[1]) : nil
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard pair.count == 1 else { return false }
            case "client_max_window_bits":
                // The node inflates with the largest window, so any client window works.
                guard pair.count == 1 || (value.map { (8...15).contains($0) } ?? false) else { return false }
            case "server_max_window_bits":
                guard value == 15 else { return false }
            default:
                return false
            }
        }
        return true
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        return String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
