import ChatProtocol
import TestSupport
import Testing

/// A v2 client's user list built the way PROTOCOL.md §5 says: `welcome.users`,
/// then every `presence` event applied in order (remove `left`, add
/// `joined`). It records every broken net-change rule it sees.
struct PresenceTracker {
    let ownNick: String
    private(set) var users: Set<String>
    private(set) var violations: [String] = []
    private(set) var presenceEvents = 0

    init(welcome: [String: JSONValue]) {
        ownNick = welcome.string("nick") ?? ""
        users = Set(welcome.strings("users") ?? [])
    }

    /// Applies `event` if it is a `presence` event; returns whether it was.
    @discardableResult
    mutating func apply(_ event: [String: JSONValue]) -> Bool {
        guard event.string("type") == "presence" else { return false }
        presenceEvents += 1
        let joined = event.strings("joined") ?? []
        var left: [String] = []
        if case .array(let departures) = event["left"] {
            for case .object(let departure) in departures {
                left.append(departure.string("nick") ?? "")
                if !["quit", "timeout", "node_down"].contains(departure.string("reason") ?? "") {
                    violations.append("bad reason in \(departure)")
                }
            }
        }
        if joined.isEmpty && left.isEmpty { violations.append("empty presence event") }
        if event["ts"]?.int64Value == nil { violations.append("presence without ts") }
        if joined.contains(ownNick) || left.contains(ownNick) { violations.append("own nick in presence: \(event)") }
        for nick in left {
            if users.remove(nick) == nil { violations.append("left \(nick) was not listed") }
        }
        for nick in joined {
            if !users.insert(nick).inserted { violations.append("joined \(nick) was already listed") }
        }
        return true
    }

    /// Reads events from `client` until none arrives for `quiet`, applying presence events; returns the others.
    mutating func drain(_ client: WebSocketTestClient, quiet: Duration = .milliseconds(700)) async -> [[String: JSONValue]] {
        var others: [[String: JSONValue]] = []
        while let event = await client.nextMessage(timeout: quiet) {
            if !apply(event) { others.append(event) }
        }
        return others
    }
}
