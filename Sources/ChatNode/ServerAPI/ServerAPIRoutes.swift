import ChatProtocol
import HTTPTypes
import Hummingbird
import NIOCore

/// The server API (PROTOCOL.md §7): what the operator's backend may do
/// with a bearer key. Registered only with `--api-key-file`; without it
/// these paths answer 404 like any unknown path.
enum ServerAPIRoutes {
    /// Request bodies larger than this are refused.
    static let maximumBodyBytes = 64 * 1024

    static func add(to router: Router<BasicRequestContext>, node: ChatNode, key: APIKey) {
        let bus = node.bus
        router.post("/api/publish") { request, _ in
            try await answer(request, key) { body throws(APIError) in
                let object = try body.object()
                let room = try object.room()
                let text = try object.string("text")
                guard MessageText.isValid(text) else { throw APIError(.badRequest, .textInvalid) }
                let from = try object.optionalString("from") ?? "server"
                guard let sender = Nick(validating: from) else { throw APIError(.badRequest, .nickInvalid) }
                let line = ChatLine(id: node.messageIDs.next(), from: sender.canonical, text: text, ts: Clock.milliseconds(), room: room)
                try await APIError.from { try await bus.publish(line).get() }
                var writer = JSONWriter()
                writer.beginObject()
                writer.member("id", line.id)
                writer.endObject()
                return writer.bytes
            }
        }
        router.post("/api/disconnect") { request, _ in
            try await answer(request, key) { body throws(APIError) in
                let object = try body.object()
                let nick = NickKey(lookingUp: try object.string("nick"))
                let reason = try object.optionalString("reason") ?? "disconnected by the server"
                // A close frame's reason has room for 123 bytes.
                guard reason.utf8.count <= 120 else { throw APIError(.badRequest, .badMessage, "reason must be at most 120 bytes") }
                try await APIError.from { try await bus.disconnect(nick, reason: reason).get() }
                return Array("{}".utf8)
            }
        }
        router.post("/api/kick") { request, _ in
            try await answer(request, key) { body throws(APIError) in
                let object = try body.object()
                let room = try object.room()
                let nick = NickKey(lookingUp: try object.string("nick"))
                try await APIError.from { try await bus.kick(nick, from: room).get() }
                return Array("{}".utf8)
            }
        }
        router.get("/api/rooms") { request, _ in
            try await answer(request, key) { _ throws(APIError) in
                let rooms = try await APIError.from { try await bus.allRooms().get() }
                var writer = JSONWriter()
                writer.beginObject()
                writer.member("rooms", rooms)
                writer.endObject()
                return writer.bytes
            }
        }
        router.get("/api/rooms/:room/users") { request, context in
            try await answer(request, key) { _ throws(APIError) in
                let room = try roomParameter(context)
                let query = request.uri.queryParameters
                let prefix = try keyParameter(query["prefix"].map(String.init), name: "prefix")
                let after = try keyParameter(query["after"].map(String.init), name: "after")
                let limit = try limitParameter(query["limit"].map(String.init), default: MemberPageRules.defaultLimit)
                let contents = try await APIError.from { try await bus.contents(of: room).get() }
                return ChatV3Codec.encode(.memberPage(contents.page(prefix: prefix, after: after, limit: limit), ref: nil))
            }
        }
        router.get("/api/rooms/:room/history") { request, context in
            try await answer(request, key) { _ throws(APIError) in
                let room = try roomParameter(context)
                let query = request.uri.queryParameters
                let limit = try limitParameter(query["limit"].map(String.init), default: 50)
                let since = query["since"].map(String.init)
                let contents = try await APIError.from { try await bus.contents(of: room).get() }
                var bytes = Array(#"{"room":"#.utf8) + JSONWriter.encodedString(room.value) + Array(#","history":["#.utf8)
                for (index, line) in contents.lines(since: since, limit: limit).enumerated() {
                    if index > 0 { bytes.append(UInt8(ascii: ",")) }
                    bytes += ChatV3Codec.encode(.message(line, ref: nil))
                }
                bytes += Array("]}".utf8)
                return bytes
            }
        }
    }

    /// Checks the bearer key, runs `body` with the request's body, and
    /// turns its result or its `APIError` into the response.
    private static func answer(
        _ request: Request, _ key: APIKey, _ body: (RequestBytes) async throws(APIError) -> [UInt8]
    ) async throws -> Response {
        var request = request
        guard key.authorizes(request.headers[.authorization]) else {
            var response = APIError(.unauthorized, .unauthorized, "this API needs Authorization: Bearer <the server API key>").response
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        do {
            let bytes: [UInt8]
            if request.method == .post {
                guard let buffer = try? await request.collectBody(upTo: maximumBodyBytes) else {
                    throw APIError(.contentTooLarge, .badMessage, "the body must be at most \(maximumBodyBytes) bytes")
                }
                bytes = Array(buffer.readableBytesView)
            } else {
                bytes = []
            }
            return json(try await body(RequestBytes(bytes: bytes)), status: .ok)
        } catch let error as APIError {
            return error.response
        } catch {
            return APIError(.internalServerError, .internal).response
        }
    }

    static func json(_ bytes: [UInt8], status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes))
        )
    }

    private static func roomParameter(_ context: BasicRequestContext) throws(APIError) -> RoomName {
        guard let raw = context.parameters.get("room"), let room = RoomName(validating: raw) else {
            throw APIError(.badRequest, .roomInvalid)
        }
        return room
    }

    private static func keyParameter(_ value: String?, name: String) throws(APIError) -> String? {
        guard let value else { return nil }
        guard value.unicodeScalars.count <= MemberPageRules.maximumKeyLength else {
            throw APIError(.badRequest, .badMessage, "\(name) must be at most \(MemberPageRules.maximumKeyLength) characters")
        }
        return value
    }

    private static func limitParameter(_ value: String?, default defaultLimit: Int) throws(APIError) -> Int {
        guard let value else { return defaultLimit }
        guard let limit = Int(value), MemberPageRules.limits.contains(limit) else {
            throw APIError(.badRequest, .badMessage, "limit must be a whole number from 1 to 1000")
        }
        return limit
    }
}

/// A request body, read as the JSON object the API expects.
struct RequestBytes {
    let bytes: [UInt8]

    func object() throws(APIError) -> RequestObject {
        guard case .object(let fields) = try? JSONParser.parse(bytes) else {
            throw APIError(.badRequest, .badMessage, "the body must be a JSON object")
        }
        return RequestObject(fields: fields)
    }
}

/// The fields of a request body, each refused with `bad_message` when of the wrong type.
struct RequestObject {
    let fields: [String: JSONValue]

    func string(_ name: String) throws(APIError) -> String {
        guard let value = fields[name]?.stringValue else { throw APIError(.badRequest, .badMessage, "\(name) must be a string") }
        return value
    }

    func optionalString(_ name: String) throws(APIError) -> String? {
        guard let value = fields[name] else { return nil }
        guard let text = value.stringValue else { throw APIError(.badRequest, .badMessage, "\(name) must be a string") }
        return text
    }

    func room() throws(APIError) -> RoomName {
        guard let room = RoomName(validating: try string("room")) else { throw APIError(.badRequest, .roomInvalid) }
        return room
    }
}
