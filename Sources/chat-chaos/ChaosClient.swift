import ChatProtocol
import TestSupport

/// A chat client under load: it joins, then a reader task records every
/// event it gets, so a scenario can check afterwards what each client saw.
final class ChaosClient: Sendable {
    let nick: String
    let subprotocol: String
    let welcome: [String: JSONValue]
    let transcript = Transcript()
    private let connection: WebSocketTestClient
    private let reader: Task<Void, Never>

    private init(nick: String, subprotocol: String, welcome: [String: JSONValue], connection: WebSocketTestClient) {
        self.nick = nick
        self.subprotocol = subprotocol
        self.welcome = welcome
        self.connection = connection
        let transcript = self.transcript
        reader = Task {
            while let event = await connection.next() {
                await transcript.record(event)
                if case .disconnected = event { break }
            }
            await transcript.record(.disconnected)
        }
    }

    deinit {
        reader.cancel()
    }

    /// Connects to `port`, says `hello` as `nick` (resuming after `since`) and waits for `welcome`.
    static func join(
        host: String = "127.0.0.1", port: Int, nick: String, subprotocol: String = "chat.v1.json", since: String? = nil,
        timeout: Duration = .seconds(10), receiveBufferBytes: Int? = nil
    ) async throws -> ChaosClient {
        let connection = try await WebSocketTestClient.connect(
            port: port, host: host, subprotocols: [subprotocol], receiveBufferBytes: receiveBufferBytes
        )
        guard connection.handshake.status == 101 else {
            await connection.disconnect()
            throw ChaosFailure("\(nick): handshake answered \(connection.handshake.status)")
        }
        let sinceMember = since.map { #","since":"\#($0)""# } ?? ""
        try await connection.send(#"{"type":"hello","nick":"\#(nick)"\#(sinceMember)}"#)
        guard let first = await connection.nextMessage(timeout: timeout) else {
            await connection.disconnect()
            throw ChaosFailure("\(nick): no answer to hello")
        }
        guard first["type"]?.stringValue == "welcome" else {
            await connection.disconnect()
            throw ChaosFailure("\(nick): hello answered \(first)")
        }
        return ChaosClient(nick: nick, subprotocol: subprotocol, welcome: first, connection: connection)
    }

    /// Sends one text frame; false when the connection is gone.
    @discardableResult
    func send(_ text: String) async -> Bool {
        (try? await connection.send(text)) != nil
    }

    /// Says `text` to everyone.
    @discardableResult
    func say(_ text: String) async -> Bool {
        await send(#"{"type":"say","text":"\#(text)"}"#)
    }

    /// v3: says `text` in `room`.
    @discardableResult
    func say(_ text: String, in room: String) async -> Bool {
        await send(#"{"type":"say","room":"\#(room)","text":"\#(text)"}"#)
    }

    /// v3: joins `room` and waits (10 s at most) for its `room` reply.
    func enter(_ room: String) async throws {
        await send(#"{"type":"join","room":"\#(room)"}"#)
        let deadline = ContinuousClock.now + .seconds(10)
        while await !transcript.rooms.contains(room) {
            guard ContinuousClock.now < deadline else { throw ChaosFailure("\(nick): no room reply for \(room)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops reading, like a client that hangs.
    func stopReading() async {
        try? await connection.pauseReading()
    }

    /// Drops the TCP connection without a close frame.
    func disconnect() async {
        await connection.disconnect()
    }

    /// The ids of the welcome's history lines, oldest first.
    var historyLines: [ChatLineSeen] {
        guard case .array(let lines) = welcome["history"] else { return [] }
        return lines.compactMap { line in
            guard case .object(let fields) = line else { return nil }
            return ChatLineSeen(fields)
        }
    }
}

/// A `message` event as a client saw it.
struct ChatLineSeen: Sendable, Equatable {
    var id: String
    var from: String
    var text: String

    init?(_ fields: [String: JSONValue]) {
        guard let id = fields["id"]?.stringValue, let from = fields["from"]?.stringValue, let text = fields["text"]?.stringValue else {
            return nil
        }
        self.id = id
        self.from = from
        self.text = text
    }
}

/// Everything one client received, in order of arrival.
actor Transcript {
    private(set) var lines: [ChatLineSeen] = []
    /// When each of `lines` arrived.
    private(set) var arrivals: [ContinuousClock.Instant] = []
    /// `left` events (v1) and departures in `presence` events (v2): nick and reason.
    private(set) var departures: [(nick: String, reason: String, at: ContinuousClock.Instant)] = []
    private(set) var errorCodes: [String] = []
    private(set) var userLists: [[String]] = []
    private(set) var closeCode: UInt16?
    private(set) var isDisconnected = false
    /// v3: the rooms whose `room` reply arrived.
    private(set) var rooms: Set<String> = []

    func record(_ event: WebSocketTestClient.Event) {
        switch event {
        case .text(let text):
            guard case .object(let fields) = try? JSONParser.parse(text) else { return }
            record(fields)
        case .close(let code, _): closeCode = code
        case .disconnected: isDisconnected = true
        case .compressed, .ping, .pong: break
        }
    }

    private func record(_ fields: [String: JSONValue]) {
        switch fields["type"]?.stringValue {
        case "message":
            if let line = ChatLineSeen(fields) {
                lines.append(line)
                arrivals.append(.now)
            }
        case "left":
            if let nick = fields["nick"]?.stringValue { departures.append((nick, fields["reason"]?.stringValue ?? "", .now)) }
        case "presence":
            guard case .array(let left) = fields["left"] else { return }
            for entry in left {
                if case .object(let departure) = entry, let nick = departure["nick"]?.stringValue {
                    departures.append((nick, departure["reason"]?.stringValue ?? "", .now))
                }
            }
        case "error":
            errorCodes.append(fields["code"]?.stringValue ?? "")
        case "room":
            if let room = fields["room"]?.stringValue { rooms.insert(room) }
        case "users":
            if case .array(let nicks) = fields["users"] { userLists.append(nicks.compactMap(\.stringValue)) }
        default: break
        }
    }

    /// The lines from `sender`, in order of arrival.
    func lines(from sender: String) -> [String] {
        lines.filter { $0.from == sender }.map(\.text)
    }

    /// Forgets the user lists received so far, before asking `who` again.
    func clearUserLists() {
        userLists = []
    }
}

/// A scenario's set-up failed (not an invariant: the harness itself).
struct ChaosFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
